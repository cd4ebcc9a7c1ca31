// Package smtpd is postern's SMTP server: listeners, the per-connection
// state machine, pipelining, STARTTLS, AUTH, DATA and BDAT, limits and
// timeouts. What to do with a message is the Session's business.
package smtpd

import (
	"context"
	"crypto/tls"
	"io"
	"net/netip"
	"time"

	"postern/internal/smtp"
)

// Backend makes one Session per connection.
type Backend interface {
	// NewSession is called for each new connection before the greeting.
	// A non-nil reply is sent instead of the greeting and the connection
	// is closed (use 421 or 554).
	NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply)
}

// ConnInfo describes a connection to the Session.
type ConnInfo struct {
	ID       string         // connection id, for logs
	Remote   netip.AddrPort // the client
	Local    netip.AddrPort // our end
	Listener string         // listener name
	Mode     Mode
	// PeerUID is the user id of the process at the other end of a unix
	// socket, as the kernel reports it (SO_PEERCRED); -1 for TCP or when
	// the kernel cannot tell.
	PeerUID int
}

// Session receives the SMTP conversation of one connection. The server
// has already checked syntax and command order; the session decides.
// Methods returning *smtp.Reply return nil to accept with the standard
// positive reply.
type Session interface {
	// Hello is called for HELO and EHLO (and again after STARTTLS).
	Hello(ctx context.Context, name string, extended bool) *smtp.Reply
	// TLS is called once a TLS handshake has completed (STARTTLS or
	// implicit TLS).
	TLS(cs tls.ConnectionState)
	// Auth checks credentials from AUTH PLAIN or LOGIN. It is only called
	// on TLS connections of submission and smtps listeners.
	Auth(ctx context.Context, user, password string) *smtp.Reply
	// Mail starts a transaction.
	Mail(ctx context.Context, from smtp.Path, p smtp.Params) *smtp.Reply
	// Rcpt adds a recipient.
	Rcpt(ctx context.Context, to smtp.Path, p smtp.Params) *smtp.Reply
	// Data reads the message from r to io.EOF and returns the final reply
	// (never nil): 250 once the message is durably queued, or why not.
	// An error from r is a *smtp.Reply (bare LF, too big) to return as
	// is, or a connection error.
	Data(ctx context.Context, r io.Reader) *smtp.Reply
	// Reset aborts the current transaction (RSET, HELO, EHLO, STARTTLS).
	Reset()
	// Close is called once when the connection ends.
	Close()
}

// GreetPauser is implemented by a Session that wants the greeting held
// back: a client that talks before it is an early talker (a spam engine
// that does not wait for the server), like sendmail's greet_pause and
// Postfix's postscreen greet wait.
type GreetPauser interface {
	// GreetPause returns how long to wait before the greeting; 0 for none.
	GreetPause() time.Duration
	// EarlyTalker is called when the client spoke during the pause; the
	// reply is sent and the connection closed.
	EarlyTalker() *smtp.Reply
}

// Hanger is implemented by a Session that may decide, while answering a
// command, that the connection must end after the reply (a revoked
// login, a blocked client). smtpd asks after every command.
type Hanger interface {
	Hangup() bool
}
