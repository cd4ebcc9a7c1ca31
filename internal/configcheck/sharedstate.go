package configcheck

import (
	"fmt"
	"log/slog"

	"postern/internal/config"
	"postern/internal/sharedstate"
)

// SharedState opens the [ratelimit] backend as the server does (the
// database password file read as root) and asks it once. A password file
// that cannot be read is a problem: the server would not start. A backend
// that does not answer is a warning: on_backend_error decides for the
// limits, but logins get 454 and logged-in users' mail is held while it
// lasts.
func SharedState(cfg *config.Config) Result {
	var r Result
	if cfg.RateLimit.Backend == "memory" {
		return r
	}
	s, err := sharedstate.Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return r
	}
	defer s.Close()
	if err := s.Ping(); err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("ratelimit: warning: the %s backend does not answer: %v (limits follow on_backend_error = %q; logins get 454 4.7.0 and logged-in users' mail is held until it answers)",
			cfg.RateLimit.Backend, err, cfg.RateLimit.OnBackendError))
	}
	return r
}
