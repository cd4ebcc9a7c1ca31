package policy

import (
	"net/netip"

	"postern/internal/maps"
	"postern/internal/smtp"
)

// AccessFate is what the access map says about a message as a whole.
type AccessFate int

const (
	// FateNone: no entry, or one that only accepts (OK, RELAY, SKIP).
	FateNone AccessFate = iota
	// FateDiscard: accept and throw the message away (DISCARD).
	FateDiscard
	// FateHold: accept and keep it in the queue (QUARANTINE).
	FateHold
)

// AccessVerdict is the access map's answer for a client, a sender or a
// recipient.
type AccessVerdict struct {
	Reply *smtp.Reply // refuse (REJECT, ERROR)
	Fate  AccessFate
	Rule  string // the entry, "access line 12: From:example.com REJECT"; "" when none matched
}

func verdictOf(e maps.AccessEntry, what string) AccessVerdict {
	v := AccessVerdict{Rule: what + " " + e.Rule()}
	if e.Action == maps.ActionRelay && e.Lookup == maps.TagFrom {
		v.Rule += " (relaying for a claimed sender needs allow_sender_relay = true)"
	}
	switch e.Action {
	case maps.ActionReject, maps.ActionError:
		v.Reply = accessReply(e)
	case maps.ActionDiscard:
		v.Fate = FateDiscard
	case maps.ActionQuarantine:
		v.Fate = FateHold
	}
	return v
}

// Connect is the access map's Connect: answer for a client (ip and its
// verified host name, "" when unknown).
func (r *Relay) Connect(ip netip.Addr, hostname string) AccessVerdict {
	e, ok := r.connectEntry(r.maps(), Query{Client: ip, ClientName: hostname})
	if !ok {
		return AccessVerdict{}
	}
	return verdictOf(e, "client:")
}

// ConnectOK reports whether the access map accepts the client outright
// (Connect: OK or RELAY), and the entry: sendmail's "accept even if
// other checks would refuse", which check_relay applies before its own
// block list and reverse DNS checks.
func (r *Relay) ConnectOK(ip netip.Addr, hostname string) (rule string, ok bool) {
	e, found := r.connectEntry(r.maps(), Query{Client: ip, ClientName: hostname})
	if !found || (e.Action != maps.ActionOK && e.Action != maps.ActionRelay) {
		return "", false
	}
	return e.Rule(), true
}

// Mail is the access map's From: answer for an envelope sender. A RELAY
// entry accepts here; whether it lets the client relay is decided at RCPT.
func (r *Relay) Mail(from smtp.Path) AccessVerdict {
	m := r.maps()
	if m == nil {
		return AccessVerdict{}
	}
	e, ok := m.Access.From(from.String())
	if !ok || e.Action == maps.ActionSkip {
		return AccessVerdict{}
	}
	return verdictOf(e, "sender:")
}

// RcptFate is the access map's To: answer for the fate of the message
// (DISCARD, QUARANTINE); refusals are part of Decide.
func (r *Relay) RcptFate(to smtp.Path) AccessVerdict {
	m := r.maps()
	if m == nil {
		return AccessVerdict{}
	}
	e, ok := m.Access.To(to.String())
	if !ok || (e.Action != maps.ActionDiscard && e.Action != maps.ActionQuarantine) {
		return AccessVerdict{}
	}
	return verdictOf(e, "recipient:")
}
