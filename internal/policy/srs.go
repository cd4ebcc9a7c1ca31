package policy

import (
	"fmt"

	"postern/internal/maps"
	"postern/internal/smtp"
)

// SRS checks the addresses that forwarded mail carried as its envelope
// sender (the Sender Rewriting Scheme): bounces come back to them.
type SRS interface {
	// Owns reports whether addr is in our SRS domain and looks like an
	// SRS address.
	Owns(addr string) bool
	// Reverse checks the address (hash, age) and returns the address it
	// stands for, or why it is not a valid one of ours.
	Reverse(addr string) (string, error)
}

// replyBadSRS refuses an SRS address that is not ours or too old: 550
// 5.1.1 at RCPT, so that forged bounce addresses never relay.
var replyBadSRS = &smtp.Reply{Code: 550, Enhanced: "5.1.1", Text: "invalid or expired SRS address"}

// srs decides for a recipient in the SRS domain that looks like an SRS
// address; ok is false for every other recipient. A valid one is sent
// on to the address it stands for (the original sender, or for SRS1 the
// first forwarder), whoever the client is: only we can make an address
// that passes, so this relays only to senders whose mail we forwarded.
func (r *Relay) srs(m *maps.Maps, to smtp.Path) (Decision, bool) {
	if r.SRS == nil || to.IsLiteral() || !r.SRS.Owns(to.String()) {
		return Decision{}, false
	}
	orig, err := r.SRS.Reverse(to.String())
	if err != nil {
		return Decision{Reply: replyBadSRS, Rule: fmt.Sprintf("SRS address %s refused: %v", to, err)}, true
	}
	// The local part keeps its case: it is someone else's.
	p, _, rep := smtp.ParseRcpt("TO:<"+orig+">", smtp.ParseOptions{SMTPUTF8: true})
	if rep != nil || p.Domain == "" || p.IsLiteral() {
		return Decision{Reply: replyBadSRS, Rule: fmt.Sprintf("SRS address %s stands for %q, which is not an address", to, orig)}, true
	}
	target := p.String()
	rule := fmt.Sprintf("SRS address %s (hash and age good) stands for %s: bounces of mail we forwarded go back to its sender", to, target)
	if lrule, ok := r.isLocal(p.Domain); ok {
		d := r.local(m, p, p.Domain, lrule)
		d.Rule = rule + "; " + d.Rule
		return d, true
	}
	return Decision{Class: Forward, Mailbox: target, Rule: rule}, true
}
