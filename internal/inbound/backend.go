// Package inbound is the SMTP Session of postern: it asks policy about
// each stage, adds the trace header and puts accepted mail in the spool.
package inbound

import (
	"context"
	"log/slog"
	"time"

	"postern/internal/policy"
	"postern/internal/smtp"
	"postern/internal/smtpd"
	"postern/internal/spool"
)

// Authenticator checks SMTP AUTH credentials.
type Authenticator interface {
	Verify(user, password string) bool
}

// Options configure the inbound side.
type Options struct {
	Hostname string        // our name in the Received header
	Relay    *policy.Relay // who may send where
	Spool    *spool.Spool  // where accepted mail goes
	Auth     Authenticator // nil: AUTH always fails
	Log      *slog.Logger
	// MaxHops is the number of Received headers after which a message is
	// refused as looping (Postfix's hopcount_limit). 0 means 50.
	MaxHops int
	Now     func() time.Time // nil means time.Now
}

// Backend makes one session per SMTP connection.
type Backend struct {
	opts Options
}

// New returns the inbound backend.
func New(opts Options) *Backend {
	if opts.MaxHops == 0 {
		opts.MaxHops = 50
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Backend{opts: opts}
}

// NewSession implements smtpd.Backend.
func (b *Backend) NewSession(ctx context.Context, c smtpd.ConnInfo) (smtpd.Session, *smtp.Reply) {
	log := b.opts.Log.With("conn", c.ID)
	log.InfoContext(ctx, "connect", "client", c.Remote.Addr().String(), "listener", c.Listener)
	return &session{b: b, info: c, log: log}, nil
}
