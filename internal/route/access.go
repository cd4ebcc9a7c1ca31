package route

import (
	"context"
	"log/slog"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/policy"
	"postern/internal/smtp"
)

// AccessChecker applies the access map's verdicts that are not about
// relaying: From: REJECT and ERROR at MAIL FROM, and DISCARD or
// QUARANTINE (from Connect:, From: or To:) on the whole message at DATA.
// The relay meaning (RELAY, To: refusals) is in policy.Relay.Decide;
// Connect: refusals at connect time are answered by the connection
// checks.
type AccessChecker struct {
	Relay *policy.Relay
	Log   *slog.Logger
}

type fateKey struct{}

type fate struct {
	action inbound.Action
	rule   string
}

func mark(t *inbound.Txn, v policy.AccessVerdict) {
	var a inbound.Action
	switch v.Fate {
	case policy.FateDiscard:
		a = inbound.Discard
	case policy.FateHold:
		a = inbound.Hold
	default:
		return
	}
	if cur, ok := t.Values[fateKey{}].(fate); ok && cur.action >= a {
		return
	}
	t.Values[fateKey{}] = fate{action: a, rule: v.Rule}
}

// CheckMail implements inbound.MailChecker.
func (a *AccessChecker) CheckMail(_ context.Context, t *inbound.Txn) *inbound.Verdict {
	c := a.Relay.Connect(t.Conn.IP(), t.Conn.ClientName)
	if c.Reply != nil {
		// A client the access map refuses that got this far (its host
		// name became known after connect): refuse its mail.
		return &inbound.Verdict{Reply: c.Reply, Rule: c.Rule}
	}
	mark(t, c)
	v := a.Relay.Mail(t.From)
	if v.Reply != nil {
		return &inbound.Verdict{Reply: v.Reply, Rule: v.Rule}
	}
	mark(t, v)
	return nil
}

// CheckRcpt implements inbound.RcptChecker.
func (a *AccessChecker) CheckRcpt(_ context.Context, t *inbound.Txn, to smtp.Path, _ *envelope.Recipient) *inbound.Verdict {
	mark(t, a.Relay.RcptFate(to))
	return nil
}

// CheckData implements inbound.DataChecker.
func (a *AccessChecker) CheckData(_ context.Context, t *inbound.Txn, _ *inbound.Message) *inbound.Verdict {
	f, ok := t.Values[fateKey{}].(fate)
	if !ok {
		return nil
	}
	return &inbound.Verdict{Action: f.action, Rule: f.rule}
}
