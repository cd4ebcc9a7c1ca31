package sharedstate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"postern/internal/config"
	"postern/internal/suspensions"
)

// Suspensions is the fleet's record of suspended accounts in the shared
// backend; nil with backend = "memory" (the users file's mark is then
// the only one).
func (s *Store) Suspensions() *suspensions.Shared {
	if !s.shared {
		return nil
	}
	return &suspensions.Shared{KV: s.Backend}
}

// ApplyUser records `postern user suspend` and `resume` in the shared
// backend, after the users file was changed; other actions, and backend
// = "memory", need nothing. Run as root (the password file).
func ApplyUser(cfg *config.Config, log *slog.Logger, action, addr string) error {
	if action != "suspend" && action != "resume" || cfg.RateLimit.Backend == "memory" {
		return nil
	}
	s, err := Open(cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	sh := s.Suspensions()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if action == "suspend" {
		err = sh.Suspend(ctx, addr)
	} else {
		err = sh.Resume(ctx, addr)
	}
	if err != nil {
		return fmt.Errorf("the users file is changed, but the other servers sharing the %s backend were not told: %w (run the command again once it answers)",
			cfg.RateLimit.Backend, err)
	}
	return nil
}
