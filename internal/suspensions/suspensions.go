// Package suspensions shares account suspensions between the gateways
// of a fleet: `postern user suspend` on one node records the suspension
// in the [ratelimit] backend (Redis or PostgreSQL) besides the users
// file's mark, and every node sharing the backend then refuses the
// user's logins and holds their mail; `postern user resume` lifts it.
//
// Fail closed: when the backend does not answer, a login gets 454 4.7.0
// (try again later), never a success, and the user's mail is held.
package suspensions

import (
	"context"
	"time"

	"postern/internal/inbound"
	"postern/internal/smtp"
)

// KV is the part of the shared backend suspensions use
// (ratelimit.Backend meets it).
type KV interface {
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
}

// Shared is the fleet's record of suspensions.
type Shared struct {
	KV KV
	// Timeout bounds one look-up; 0 means 2 seconds.
	Timeout time.Duration
}

// kept is how long a suspension record lasts: until resumed, in effect.
const kept = 10 * 365 * 24 * time.Hour

func key(addr string) string { return "suspended:" + addr }

// Suspend records addr (normalized) as suspended on every node.
func (s *Shared) Suspend(ctx context.Context, addr string) error {
	return s.KV.Set(ctx, key(addr), []byte("1"), kept)
}

// Resume lifts addr's suspension on every node (the record expires at
// once).
func (s *Shared) Resume(ctx context.Context, addr string) error {
	return s.KV.Set(ctx, key(addr), []byte("0"), time.Millisecond)
}

// Suspended reports whether addr is suspended on the fleet.
func (s *Shared) Suspended(ctx context.Context, addr string) (bool, error) {
	d := s.Timeout
	if d <= 0 {
		d = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, ok, err := s.KV.Get(ctx, key(addr))
	if err != nil {
		return false, err
	}
	return ok && string(v) == "1", nil
}

// CheckAuth implements inbound.AuthChecker: once the password is right,
// a user suspended on the fleet is refused as a wrong password is (535),
// and when the record cannot be read the login gets 454 4.7.0.
func (s *Shared) CheckAuth(ctx context.Context, c *inbound.Conn, user string, verified, ok bool) *inbound.Verdict {
	if !verified || !ok {
		return nil
	}
	suspended, err := s.Suspended(ctx, user)
	if err != nil {
		return &inbound.Verdict{Rule: "suspensions: shared backend unavailable: " + err.Error(),
			// RFC 4954 6: 454 4.7.0 temporary authentication failure.
			Reply: &smtp.Reply{Code: 454, Enhanced: "4.7.0", Text: "temporary authentication failure, try again later"}}
	}
	if suspended {
		return &inbound.Verdict{Rule: "user " + user + " is suspended (shared record)",
			Reply: &smtp.Reply{Code: 535, Enhanced: "5.7.8", Text: "authentication credentials invalid"}}
	}
	return nil
}

// Held reports whether the mail of user must be held: suspended on the
// fleet, or the record cannot be read now (held mail is retried, never
// lost).
func (s *Shared) Held(ctx context.Context, user string) bool {
	suspended, err := s.Suspended(ctx, user)
	return suspended || err != nil
}
