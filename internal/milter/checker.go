package milter

import (
	"context"
	"errors"
	"fmt"
	"time"

	gomilter "github.com/emersion/go-milter"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// Stage names, for logs, rules and reply choice.
const (
	stageConnect = "connect"
	stageHelo    = "helo"
	stageMail    = "mail"
	stageRcpt    = "rcpt"
	stageData    = "data"
)

// stateKey keys the per-connection state in inbound.Conn.Values.
type stateKey struct{}

// mstate is one milter's state on one SMTP connection.
type mstate struct {
	f *filter
	l *link // nil when the milter is down or done with

	// Connection level.
	failed    bool        // unreachable or broke the protocol: OnFailure applies
	connReply *smtp.Reply // refused the connection (at connect or HELO): given at MAIL
	connRule  string      //   and why
	done      bool        // accepted the connection: not asked again

	// Transaction level.
	txn     *inbound.Txn // the transaction the milter saw MAIL for
	txnOpen bool         // MAIL sent and the message not ended: abort before the next
	skip    bool         // accepted the message: not asked again for it
	discard bool         // asked for the message to be discarded
}

// connState is the milters' state for one connection, in filter order.
type connState struct {
	ms []*mstate
}

func state(c *inbound.Conn) *connState {
	cs, _ := c.Values[stateKey{}].(*connState)
	return cs
}

// usable reports whether the milter takes part in the transaction t.
func (st *mstate) usable(t *inbound.Txn) bool {
	return st.l != nil && !st.done && st.connReply == nil && st.txn == t && !st.skip && !st.discard
}

// fail closes a broken milter and returns the verdict its flags ask for
// (nil: go on without it).
func (c *Checker) fail(ctx context.Context, conn *inbound.Conn, st *mstate, stage string, err error) *inbound.Verdict {
	if st.l != nil {
		st.l.tc.Close()
		st.l = nil
	}
	st.failed = true
	st.txnOpen = false
	c.log.WarnContext(ctx, "milter failed", "conn", conn.ID, "milter", st.f.Name, "stage", stage,
		"on_failure", st.f.OnFailure.String(), "err", err)
	return c.failureVerdict(st, stage, err)
}

func (c *Checker) failureVerdict(st *mstate, stage string, err error) *inbound.Verdict {
	r := failureReply(st.f.OnFailure)
	if r == nil {
		return nil
	}
	if err == nil {
		err = errors.New("milter unavailable earlier in this connection")
	}
	return &inbound.Verdict{
		Reply: r.With(fmt.Errorf("milter %s: %w", st.f.Name, err)),
		Rule:  fmt.Sprintf("milter %s unavailable at %s (flags %s)", st.f.Name, stage, st.f.OnFailure),
	}
}

// call runs one exchange with the milter, giving up when ctx ends.
func call[T any](ctx context.Context, st *mstate, fn func(s *gomilter.ClientSession) (T, error)) (T, error) {
	stop := context.AfterFunc(ctx, st.l.tc.kill)
	defer stop()
	return fn(st.l.s)
}

// outcome is what a milter's answer means at a stage.
type outcome int

const (
	goOn     outcome = iota // continue with this milter
	accepted                // accept: this milter is not asked again
	refused                 // reject or tempfail: the verdict refuses
	discarded
)

// decide reads a milter's action. At connect and HELO, discard is not a
// valid answer (libmilter's rule) and counts as a protocol error.
func decide(st *mstate, stage string, a *gomilter.Action) (outcome, *inbound.Verdict, error) {
	rule := func(what string) string { return fmt.Sprintf("milter %s: %s at %s", st.f.Name, what, stage) }
	switch a.Code {
	case gomilter.ActContinue:
		return goOn, nil, nil
	case gomilter.ActAccept:
		return accepted, nil, nil
	case gomilter.ActReject:
		return refused, &inbound.Verdict{Reply: rejectReply(stage), Rule: rule("reject")}, nil
	case gomilter.ActTempFail:
		return refused, &inbound.Verdict{Reply: tempfailReply(), Rule: rule("tempfail")}, nil
	case gomilter.ActReplyCode:
		r, err := customReply(a)
		if err != nil {
			return 0, nil, err
		}
		return refused, &inbound.Verdict{Reply: r, Rule: rule(fmt.Sprintf("reply %d", r.Code))}, nil
	case gomilter.ActDiscard:
		if stage == stageConnect || stage == stageHelo {
			return 0, nil, fmt.Errorf("discard is not an answer at %s", stage)
		}
		return discarded, &inbound.Verdict{Action: inbound.Discard, Rule: rule("discard")}, nil
	}
	return 0, nil, fmt.Errorf("unexpected action %q", a.Code)
}

// CheckConnect opens a session with every milter of the listener and
// tells it about the client. Refusals at this stage are given at MAIL FROM
// (a greeting can only be 220 or 554, and a client should be able to say
// QUIT); see CheckMail.
func (c *Checker) CheckConnect(ctx context.Context, conn *inbound.Conn) *inbound.Verdict {
	cs := &connState{}
	for _, f := range c.filters {
		if f.applies(conn.Listener) {
			cs.ms = append(cs.ms, &mstate{f: f})
		}
	}
	if len(cs.ms) == 0 {
		return nil
	}
	conn.Values[stateKey{}] = cs
	for _, st := range cs.ms {
		l, err := st.f.open(ctx)
		if err != nil {
			c.fail(ctx, conn, st, stageConnect, err)
			continue
		}
		st.l = l
		ip := conn.IP().Unmap()
		family, addr := gomilter.FamilyInet, ip.String()
		switch {
		case !ip.IsValid():
			family, addr = gomilter.FamilyUnknown, ""
		case ip.Is6():
			family = gomilter.FamilyInet6
		}
		a, err := call(ctx, st, func(s *gomilter.ClientSession) (*gomilter.Action, error) {
			if err := s.Macros(gomilter.CodeConn, c.connectMacros(conn)...); err != nil {
				return nil, err
			}
			return s.Conn(clientName(conn), family, conn.Remote.Port(), addr)
		})
		if err == nil {
			var out outcome
			var v *inbound.Verdict
			out, v, err = decide(st, stageConnect, a)
			switch out {
			case accepted:
				st.done = true
			case refused:
				st.connReply, st.connRule = v.Reply, v.Rule
				c.log.InfoContext(ctx, "milter refused connection", "conn", conn.ID, "milter", st.f.Name, "rule", v.Rule)
				// The first milter that refuses ends the chain.
				return nil
			}
		}
		if err != nil {
			c.fail(ctx, conn, st, stageConnect, err)
		}
	}
	return nil
}

// CheckHelo passes HELO/EHLO (again after STARTTLS, with the TLS macros).
func (c *Checker) CheckHelo(ctx context.Context, conn *inbound.Conn) *inbound.Verdict {
	cs := state(conn)
	if cs == nil {
		return nil
	}
	for _, st := range cs.ms {
		if st.connReply != nil {
			// Refused the connection: HELO is answered, MAIL is refused.
			break
		}
		if st.l == nil || st.done {
			continue
		}
		a, err := call(ctx, st, func(s *gomilter.ClientSession) (*gomilter.Action, error) {
			if st.txnOpen {
				st.txnOpen = false
				if err := s.Abort(); err != nil {
					return nil, err
				}
			}
			if err := s.Macros(gomilter.CodeHelo, heloMacros(conn)...); err != nil {
				return nil, err
			}
			return s.Helo(conn.Helo)
		})
		if err == nil {
			var out outcome
			var v *inbound.Verdict
			out, v, err = decide(st, stageHelo, a)
			switch out {
			case accepted:
				st.done = true
			case refused:
				st.connReply, st.connRule = v.Reply, v.Rule
				return v
			}
		}
		if err != nil {
			if v := c.fail(ctx, conn, st, stageHelo, err); v != nil {
				return v
			}
		}
	}
	return nil
}

// CheckMail gives the milters the sender. The queue id is chosen here so
// that milters get it in {i}, as with sendmail.
func (c *Checker) CheckMail(ctx context.Context, t *inbound.Txn) *inbound.Verdict {
	cs := state(t.Conn)
	if cs == nil {
		return nil
	}
	if t.Env.ID == "" {
		t.Env.ID = envelope.NewID(time.Now())
	}
	for _, st := range cs.ms {
		if st.connReply != nil {
			return &inbound.Verdict{Reply: st.connReply, Rule: st.connRule}
		}
		if st.failed {
			if v := c.failureVerdict(st, stageMail, nil); v != nil {
				return v
			}
			continue
		}
		if st.l == nil || st.done {
			continue
		}
		st.txn, st.skip, st.discard = t, false, false
		a, err := call(ctx, st, func(s *gomilter.ClientSession) (*gomilter.Action, error) {
			if st.txnOpen {
				st.txnOpen = false
				if err := s.Abort(); err != nil {
					return nil, err
				}
			}
			if err := s.Macros(gomilter.CodeMail, mailMacros(t)...); err != nil {
				return nil, err
			}
			st.txnOpen = true
			return s.Mail(t.Env.From, mailArgs(t.Params))
		})
		if err == nil {
			var out outcome
			var v *inbound.Verdict
			out, v, err = decide(st, stageMail, a)
			switch out {
			case accepted:
				st.skip, st.txnOpen = true, false
			case discarded:
				st.discard, st.txnOpen = true, false
			case refused:
				st.txnOpen = false
				return v
			}
		}
		if err != nil {
			if v := c.fail(ctx, t.Conn, st, stageMail, err); v != nil {
				return v
			}
		}
	}
	return nil
}

// CheckRcpt gives the milters one recipient; a refusal refuses that
// recipient only.
func (c *Checker) CheckRcpt(ctx context.Context, t *inbound.Txn, to smtp.Path, rcpt *envelope.Recipient) *inbound.Verdict {
	cs := state(t.Conn)
	if cs == nil {
		return nil
	}
	for _, st := range cs.ms {
		if st.failed && st.txn == t {
			if v := c.failureVerdict(st, stageRcpt, nil); v != nil {
				return v
			}
			continue
		}
		if !st.usable(t) {
			continue
		}
		a, err := call(ctx, st, func(s *gomilter.ClientSession) (*gomilter.Action, error) {
			if err := s.Macros(gomilter.CodeRcpt, rcptMacros(to)...); err != nil {
				return nil, err
			}
			return s.Rcpt(to.String(), rcptArgs(rcpt))
		})
		if err == nil {
			var out outcome
			var v *inbound.Verdict
			out, v, err = decide(st, stageRcpt, a)
			switch out {
			case accepted:
				// The milter is done with the message.
				st.skip, st.txnOpen = true, false
			case discarded:
				st.discard, st.txnOpen = true, false
			case refused:
				// Only this recipient: the transaction goes on.
				return v
			}
		}
		if err != nil {
			if v := c.fail(ctx, t.Conn, st, stageRcpt, err); v != nil {
				return v
			}
		}
	}
	return nil
}

// CheckData passes the message to each milter in turn and applies what
// it changes before the next one sees it.
func (c *Checker) CheckData(ctx context.Context, t *inbound.Txn, m *inbound.Message) *inbound.Verdict {
	cs := state(t.Conn)
	if cs == nil {
		return nil
	}
	var result *inbound.Verdict
	merge := func(v *inbound.Verdict) {
		if result == nil {
			result = &inbound.Verdict{}
		}
		if v.Action > result.Action {
			result.Action = v.Action
		}
		if v.Rule != "" {
			if result.Rule != "" {
				result.Rule += "; "
			}
			result.Rule += v.Rule
		}
	}
	for _, st := range cs.ms {
		if st.failed && st.txn == t {
			if v := c.failureVerdict(st, stageData, nil); v != nil {
				return v
			}
			continue
		}
		if st.discard && st.txn == t {
			merge(&inbound.Verdict{Action: inbound.Discard, Rule: fmt.Sprintf("milter %s: discard", st.f.Name)})
			return result
		}
		if !st.usable(t) {
			continue
		}
		v, err := c.message(ctx, st, t, m)
		if err != nil {
			if v := c.fail(ctx, t.Conn, st, stageData, err); v != nil {
				return v
			}
			continue
		}
		if v == nil {
			continue
		}
		if v.Reply != nil {
			return v
		}
		merge(v)
		if v.Action == inbound.Discard {
			return result
		}
	}
	return result
}

// Closed ends every milter session of the connection.
func (c *Checker) Closed(conn *inbound.Conn) {
	cs := state(conn)
	if cs == nil {
		return
	}
	for _, st := range cs.ms {
		if st.l != nil {
			st.l.close(st.txnOpen)
			st.l = nil
		}
	}
}
