package policy

import (
	"strings"

	"postern/internal/maps"
	"postern/internal/smtp"
)

// BackupMX says which relay domains we are a backup MX for
// ([[backup_mx]]) and verifies their recipients with the primary.
type BackupMX interface {
	// Match reports whether domain is one, with the rule and whether its
	// recipients are verified by a callout (else from the maps).
	Match(domain string) (rule string, callout bool, ok bool)
	// Callout asks the primary about addr: nil when it takes it, the
	// primary's refusal, or 451 when it cannot be asked; why tells.
	Callout(addr string) (reply *smtp.Reply, why string)
}

// RFC 3463 3.2: X.1.1, bad destination mailbox address.
var replyNotVerified = &smtp.Reply{Code: 550, Enhanced: "5.1.1", Text: "recipient not known to this backup mail server"}

// backup decides for a recipient of a backup-MX domain, whoever the
// client is: it is taken only when verified, and only to go on to the
// primary, so a backup domain never relays anything else. ok is false
// for the recipients of other domains.
func (r *Relay) backup(m *maps.Maps, to smtp.Path, domain string) (Decision, bool) {
	if r.BackupMX == nil {
		return Decision{}, false
	}
	rule, callout, ok := r.BackupMX.Match(domain)
	if !ok {
		return Decision{}, false
	}
	addr := to.Local + "@" + domain
	if callout {
		rep, why := r.BackupMX.Callout(addr)
		if rep != nil {
			return Decision{Reply: rep, Rule: rule + ": " + why}, true
		}
		return Decision{Class: RelayDomain, Mailbox: addr, Rule: rule + ": " + why}, true
	}
	if m != nil {
		// Only the address itself counts: a catch-all @domain entry
		// would verify every address.
		v, ok := m.Virtusertable.Lookup(addr)
		switch {
		case ok && v.Kind == maps.VirtError:
			return Decision{Reply: &smtp.Reply{Code: v.Code, Enhanced: v.Enhanced, Text: v.Text}, Rule: rule + ": " + v.Rule()}, true
		case ok && strings.EqualFold(v.Key, addr):
			return Decision{Class: RelayDomain, Mailbox: addr, Rule: rule + ": verified by " + v.Rule() + " (sent on to the primary unchanged)"}, true
		}
	}
	return Decision{Reply: replyNotVerified, Rule: rule + ": " + addr + " has no entry of its own in the virtusertable"}, true
}
