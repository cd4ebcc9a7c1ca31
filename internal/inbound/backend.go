// Package inbound is the SMTP Session of postern: it asks policy about
// each stage, adds the trace header and puts accepted mail in the spool.
package inbound

import (
	"context"
	"crypto/x509"
	"log/slog"
	"os"
	"sync"
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

// Unavailable is met by an Authenticator whose users can be unknown for
// a while (a users table not read for longer than its stale period):
// UnavailableText says why, or "". AUTH then answers 454, never 535.
type Unavailable interface {
	UnavailableText() string
}

// Options configure the inbound side.
type Options struct {
	Hostname string        // our name in the Received header
	Relay    *policy.Relay // who may send where
	Spool    *spool.Spool  // where accepted mail goes
	Auth     Authenticator // nil: AUTH always fails
	Log      *slog.Logger
	// Checkers are the policy stages, in order; each implements some of
	// the Check* interfaces (see check.go).
	Checkers []any
	// TmpDir holds large messages while they are checked; "" means the
	// system's temporary directory.
	TmpDir string
	// MaxHops is the number of Received headers after which a message is
	// refused as looping (Postfix's hopcount_limit). 0 means 50.
	MaxHops int
	Now     func() time.Time // nil means time.Now
	// ClientCAs verify the certificates clients present ([tls]
	// client_ca_file); nil: no certificate counts as verified.
	ClientCAs *x509.CertPool
}

// Backend makes one session per SMTP connection.
type Backend struct {
	opts   Options
	checks checkers
	bufs   sync.Pool // []byte message buffers
	copies sync.Pool // *[]byte copy buffers, 32 KiB
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
	if opts.TmpDir == "" {
		opts.TmpDir = os.TempDir()
	}
	b := &Backend{opts: opts, checks: sortCheckers(opts.Checkers)}
	b.bufs.New = func() any { return make([]byte, 0, 64<<10) }
	b.copies.New = func() any { c := make([]byte, 32<<10); return &c }
	return b
}

// NewSession implements smtpd.Backend.
func (b *Backend) NewSession(ctx context.Context, ci smtpd.ConnInfo) (smtpd.Session, *smtp.Reply) {
	log := b.opts.Log.With("conn", ci.ID)
	c := &Conn{ID: ci.ID, Remote: ci.Remote, Local: ci.Local, Listener: ci.Listener, Mode: ci.Mode, PeerUID: ci.PeerUID, Values: map[any]any{}}
	if ci.Mode == smtpd.ModeLocal {
		if ci.PeerUID < 0 {
			log.WarnContext(ctx, "local submission refused: the kernel did not name the user", "listener", c.Listener)
			return nil, &smtp.Reply{Code: 554, Enhanced: "5.7.0", Text: "cannot identify the local user"}
		}
		// The kernel named the user (SO_PEERCRED): a local user is
		// authenticated, like a SASL login on the submission port.
		c.LocalUser = LoginName(ci.PeerUID)
		c.AuthUser = c.LocalUser
		log.InfoContext(ctx, "connect", "client", "local", "user", c.LocalUser, "uid", ci.PeerUID, "listener", c.Listener)
	} else {
		log.InfoContext(ctx, "connect", "client", c.IP().String(), "listener", c.Listener)
	}
	s := &session{b: b, conn: c, log: log}
	for _, ch := range b.checks.connect {
		v := refusal(ch.CheckConnect(ctx, c))
		if _, spam := ch.(SpamCheck); v != nil && spam && b.opts.Relay != nil {
			// An access-map Connect: OK (or RELAY) entry: accept even if
			// this check would refuse, as at RCPT.
			if rule, ok := b.opts.Relay.ConnectOK(c.IP(), c.ClientName); ok {
				log.InfoContext(ctx, "refusal overridden", "client", c.Client(), "rule", v.Rule, "by", rule)
				continue
			}
		}
		if v != nil {
			s.logReject(ctx, "connect", v)
			s.Close()
			return nil, v.Reply
		}
	}
	if v := s.srvFeatures(ctx); v != nil {
		s.logReject(ctx, "connect", v)
		s.Close()
		return nil, v.Reply
	}
	return s, nil
}
