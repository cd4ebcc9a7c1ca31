package alert

import (
	"context"
	"fmt"
	"io"
	"strings"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// AccountState tells whether an AUTH user is suspended or revoked
// (users.Store.State); nil means no user ever is.
type AccountState func(user string) (suspended, revoked bool)

// Checker is the inbound side of alerts and account suspension: it
// counts outbound mail, applies the alert action, holds the mail of
// suspended users and ends the sessions of revoked ones.
type Checker struct {
	D        *Detector // nil: no spike detection
	Accounts AccountState
}

func (c *Checker) state(user string) (suspended, revoked bool) {
	if user == "" || c.Accounts == nil {
		return false, false
	}
	return c.Accounts(user)
}

// CheckMail implements inbound.MailChecker: a session whose user was
// revoked since it logged in can send no more.
func (c *Checker) CheckMail(_ context.Context, t *inbound.Txn) *inbound.Verdict {
	if _, revoked := c.state(t.Conn.AuthUser); revoked {
		// RFC 4954 6: 530 5.7.0 answers a command that needs authentication;
		// the login of this session no longer counts.
		return &inbound.Verdict{Disconnect: true, Rule: "credentials of " + t.Conn.AuthUser + " revoked",
			Reply: &smtp.Reply{Code: 530, Enhanced: "5.7.0", Text: "authentication required"}}
	}
	return nil
}

// CheckRcpt implements inbound.RcptChecker: with the refuse action, a
// remote recipient of a user (or host) under alert gets 451.
func (c *Checker) CheckRcpt(_ context.Context, t *inbound.Txn, _ smtp.Path, r *envelope.Recipient) *inbound.Verdict {
	if c.D == nil || c.D.opt.Action != Refuse || !c.D.outbound(r.Addr) || !c.D.Limited(t.Conn.AuthUser) {
		return nil
	}
	return &inbound.Verdict{Rule: "outbound spike alert in force for " + scopeName(t.Conn.AuthUser),
		// RFC 3463 4.7.x: a temporary security or policy refusal.
		Reply: &smtp.Reply{Code: 451, Enhanced: "4.7.1", Text: "outbound rate over the limit, try again later"}}
}

// CheckData implements inbound.DataChecker: the mail of a suspended user,
// and with the hold action the outbound mail under alert, is held.
func (c *Checker) CheckData(_ context.Context, t *inbound.Txn, _ *inbound.Message) *inbound.Verdict {
	user := t.Conn.AuthUser
	if suspended, _ := c.state(user); suspended {
		return &inbound.Verdict{Action: inbound.Hold, Rule: "user " + user + " is suspended"}
	}
	if c.D != nil && c.D.opt.Action == Hold && c.D.outboundEnv(t.Env) && c.D.Limited(user) {
		return &inbound.Verdict{Action: inbound.Hold, Rule: "outbound spike alert in force for " + scopeName(user)}
	}
	return nil
}

// Accepted implements inbound.AcceptObserver: it counts outbound mail.
func (c *Checker) Accepted(ctx context.Context, t *inbound.Txn) {
	if c.D != nil && c.D.outboundEnv(t.Env) {
		c.D.Outbound(ctx, t.Env.AuthUser)
	}
}

func scopeName(user string) string {
	if user == "" {
		return "the host"
	}
	return user
}

func (d *Detector) outbound(addr string) bool {
	return d.opt.IsLocal != nil && !d.opt.IsLocal(domainOf(addr))
}

func (d *Detector) outboundEnv(env *envelope.Envelope) bool {
	for _, r := range env.Rcpts {
		if d.outbound(r.Addr) {
			return true
		}
	}
	return false
}

// Courier is the spool's view of delivery (spool.Courier).
type Courier interface {
	Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error
}

// HoldCourier keeps back, with a temporary failure, the queued mail of
// suspended users and messages marked Hold, and passes the rest to Next.
// Held mail is retried on the queue's schedule and leaves once the user
// is resumed (or bounces when it outlives the queue lifetime).
type HoldCourier struct {
	Next     Courier
	Accounts AccountState
	// Unknown, when set, says why the accounts cannot be known now (a
	// users table not read past its stale period), or "": the mail of
	// users (names with an @; system users have none) then waits, since
	// they may have been suspended.
	Unknown func() string
}

// HeldPrefix starts the error text of held mail (queue listings show it).
const HeldPrefix = "held: "

// Deliver implements spool.Courier.
func (h *HoldCourier) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	why := ""
	if env.Hold {
		why = "on hold"
	} else if env.AuthUser != "" && h.Accounts != nil {
		if s, _ := h.Accounts(env.AuthUser); s {
			why = fmt.Sprintf("sender %s is suspended", env.AuthUser)
		}
		if down := h.unknown(); down != "" && strings.Contains(env.AuthUser, "@") {
			why = fmt.Sprintf("whether sender %s is suspended cannot be known: %s", env.AuthUser, down)
		}
	}
	if why == "" {
		return h.Next.Deliver(ctx, env, rcpts, body)
	}
	errs := make([]error, len(rcpts))
	for i := range errs {
		errs[i] = &smtp.Reply{Code: 451, Enhanced: "4.7.1", Text: HeldPrefix + why}
	}
	return errs
}

func (h *HoldCourier) unknown() string {
	if h.Unknown == nil {
		return ""
	}
	return h.Unknown()
}
