package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"postern/internal/maps"
	"postern/internal/smtp"
)

// RFC 3463 3.4: X.3.0, a problem of the mail system.
var replyUsersDown = &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "the users of this server cannot be read now; try again later"}

var replyMapsDown = &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "a map this server needs cannot be read now; try again later"}

// Query is what the RCPT decision may look at.
type Query struct {
	Client     netip.Addr // the connecting address; invalid for local submission
	ClientName string     // the client's verified host name, or ""
	AuthUser   string     // the SASL user, or ""
	// From is the envelope sender; it matters only to access-map
	// From:... RELAY entries, honoured with AllowSenderRelay.
	From    smtp.Path
	HasFrom bool // From is known (false: not looked up)
	To      smtp.Path
	// TLS is the client's session: a verified certificate may relay by
	// the access map's CertIssuer:/CertSubject: entries.
	TLS ClientTLS
}

func (r *Relay) maps() *maps.Maps {
	if r.Maps == nil {
		return nil
	}
	return r.Maps()
}

// Decide decides for one recipient, in sendmail's check_rcpt order: the
// client's Connect: entry when it refuses, the recipient's To: entry when
// it refuses, then local domains (virtusertable, aliases, mailboxes,
// luser_relay), relay domains and To:... RELAY, and for anything else
// the client's right to relay (authentication, trusted_networks,
// Connect:... RELAY, and From:... RELAY only with AllowSenderRelay).
func (r *Relay) Decide(q Query) Decision {
	m := r.maps()
	if down := m.UnavailableText(); down != "" {
		// Without one of its maps the answer could be a wrong "no such
		// user" or a relay: every recipient waits until it is back.
		return Decision{Reply: replyMapsDown, Rule: "maps unavailable: " + down}
	}
	to := q.To
	// RFC 5321 4.5.1: <postmaster> without a domain always exists.
	if to.IsPostmaster() {
		return Decision{Class: Local, Mailbox: r.Postmaster, Rule: "bare <postmaster> always accepted (RFC 5321 4.5.1)"}
	}
	conn, connOK := r.connectEntry(m, q)
	if connOK && refuses(conn) {
		return Decision{Reply: accessReply(conn), Rule: "client refused by " + conn.Rule()}
	}
	domain := to.Domain
	literalRemote := ""
	if to.IsLiteral() {
		a, _ := to.LiteralAddr()
		if !r.ownAddr(a) {
			literalRemote = fmt.Sprintf("address literal %s is not one of our addresses", to.Domain)
		} else {
			domain = r.Hostname
		}
	}
	var toE maps.AccessEntry
	var toOK bool
	if m != nil {
		toE, toOK = m.Access.To(to.String())
		if toOK && toE.Action == maps.ActionSkip {
			toOK = false
		}
	}
	if toOK && refuses(toE) {
		return Decision{Reply: accessReply(toE), Rule: "recipient refused by " + toE.Rule()}
	}
	d := r.route(q, m, domain, literalRemote, conn, connOK, toE, toOK)
	switch {
	case !d.Accepted():
	case toOK && toE.Action == maps.ActionOK:
		d.SkipChecks = true
		d.Rule += "; " + toE.Rule() + ": later recipient checks skipped"
	case connOK && (conn.Action == maps.ActionOK || conn.Action == maps.ActionRelay):
		// sendmail: OK accepts even if other checks would refuse. The
		// client's entry cannot be forged; a sender's could, so From: OK
		// exempts from nothing.
		d.SkipChecks = true
		d.Rule += "; " + conn.Rule() + ": later recipient checks skipped"
	}
	return d
}

func (r *Relay) route(q Query, m *maps.Maps, domain, literalRemote string, conn maps.AccessEntry, connOK bool, toE maps.AccessEntry, toOK bool) Decision {
	to := q.To
	if literalRemote == "" {
		if d, ok := r.srs(m, to); ok {
			return d
		}
		if rule, ok := r.isLocal(domain); ok {
			return r.local(m, to, domain, rule)
		}
		if d, ok := r.backup(m, to, domain); ok {
			return d
		}
		for _, d := range r.Relay {
			if rule, ok := d.Match(domain); ok {
				return Decision{Class: RelayDomain, Mailbox: to.String(), Rule: "relay domain: " + rule}
			}
		}
	}
	if toOK && toE.Action == maps.ActionRelay {
		return Decision{Class: RelayDomain, Mailbox: to.String(), Rule: "mail to it may be relayed: " + toE.Rule()}
	}
	why := literalRemote
	if why == "" {
		why = fmt.Sprintf("%s is neither a local nor a relay domain", domain)
	}
	return r.remote(q, m, why, conn, connOK)
}

// connectEntry looks the client up with the access map's Connect: rules.
func (r *Relay) connectEntry(m *maps.Maps, q Query) (maps.AccessEntry, bool) {
	if m == nil || !q.Client.IsValid() {
		return maps.AccessEntry{}, false
	}
	e, ok := m.Access.Connect(q.Client.Unmap(), q.ClientName)
	if ok && e.Action == maps.ActionSkip {
		return maps.AccessEntry{}, false
	}
	return e, ok
}

func refuses(e maps.AccessEntry) bool {
	return e.Action == maps.ActionReject || e.Action == maps.ActionError
}

// accessReply is the reply of a refusing entry.
func accessReply(e maps.AccessEntry) *smtp.Reply {
	code, enh, text := e.Reply()
	return &smtp.Reply{Code: code, Enhanced: enh, Text: text}
}

// local decides for a recipient in a local domain: the virtusertable
// first (it may rewrite or refuse the address), then postmaster, a user's
// mailbox, an alias, luser_relay, or 550 5.1.1 at RCPT so that nothing is
// accepted only to bounce later (no backscatter).
func (r *Relay) local(m *maps.Maps, to smtp.Path, domain, rule string) Decision {
	quoted := strings.HasPrefix(to.Local, `"`)
	local := to.Local
	if !quoted {
		local = strings.ToLower(local)
	}
	addr := local + "@" + domain
	if m != nil && !quoted {
		if v, ok := m.Virtusertable.Lookup(to.Local + "@" + domain); ok {
			if d, done := r.virtual(m, v, local, domain, rule); done {
				return d
			}
		}
	}
	if local == "postmaster" {
		return Decision{Class: Local, Mailbox: r.Postmaster, Rule: "postmaster@ a local domain always exists (RFC 5321 4.5.1); local domain: " + rule}
	}
	if d, ok := r.known(m, addr, "local domain: "+rule); ok {
		return d
	}
	return r.unknown(m, addr, fmt.Sprintf("no mailbox %s and no alias in local domain (%s)", addr, rule))
}

// virtual applies a virtusertable result. done is false when the entry
// gives way (an error entry for postmaster, which always exists).
func (r *Relay) virtual(m *maps.Maps, v maps.VirtResult, local, domain, rule string) (Decision, bool) {
	vr := v.Rule()
	switch v.Kind {
	case maps.VirtError:
		if local == "postmaster" {
			return Decision{}, false
		}
		return Decision{Reply: &smtp.Reply{Code: v.Code, Enhanced: v.Enhanced, Text: v.Text}, Rule: vr}, true
	case maps.VirtLocal:
		target := strings.ToLower(v.Address) + "@" + domain
		if err := checkTarget(target); err != nil {
			return Decision{Reply: smtp.ReplyNoSuchUser, Rule: vr + ": " + err.Error()}, true
		}
		if d, ok := r.known(m, target, vr); ok {
			return d, true
		}
		return r.unknown(m, target, vr+": no mailbox "+target+" and no alias"), true
	}
	target, err := normTarget(v.Address)
	if err != nil {
		return Decision{Reply: smtp.ReplyNoSuchUser, Rule: vr + ": " + err.Error()}, true
	}
	at := strings.LastIndexByte(target, '@')
	if _, ok := r.isLocal(target[at+1:]); ok {
		if d, ok := r.known(m, target, vr); ok {
			return d, true
		}
		if target[:at] == "postmaster" {
			return Decision{Class: Local, Mailbox: r.Postmaster, Rule: vr + "; postmaster always exists"}, true
		}
		return r.unknown(m, target, vr+": no mailbox "+target+" and no alias"), true
	}
	return Decision{Class: Forward, Mailbox: target, Rule: vr}, true
}

// known accepts addr when it has a mailbox or its local part is an alias.
func (r *Relay) known(m *maps.Maps, addr, why string) (Decision, bool) {
	if u, ok := r.Users.(UsersUnavailable); ok && u.UnavailableText() != "" {
		// Never a "no such user" from users nobody could read.
		return Decision{Reply: replyUsersDown, Rule: "users unavailable: " + u.UnavailableText()}, true
	}
	if r.Users != nil && r.Users.Exists(addr) {
		return Decision{Class: Local, Mailbox: addr, Rule: "local user " + addr + "; " + why}, true
	}
	local := addr[:strings.LastIndexByte(addr, '@')]
	if m != nil {
		if al, ok := m.Aliases.Lookup(local); ok {
			return Decision{Class: Local, Mailbox: addr, Rule: fmt.Sprintf("alias %s (%s); %s", al.Name, al.Source.Human(), why)}, true
		}
	}
	return Decision{}, false
}

// unknown is the answer for a local address nobody receives: luser_relay
// when set, else 550 5.1.1.
func (r *Relay) unknown(m *maps.Maps, addr, why string) Decision {
	if r.LuserRelay == "" {
		return Decision{Reply: smtp.ReplyNoSuchUser, Rule: why}
	}
	target := r.LuserRelay
	if !strings.Contains(target, "@") {
		target += addr[strings.LastIndexByte(addr, '@'):]
	}
	class := Forward
	if r.IsLocal(target[strings.LastIndexByte(target, '@')+1:]) {
		class = Local
	}
	return Decision{Class: class, Mailbox: target, Rule: why + "; luser_relay sends it to " + target}
}

// remote decides for a recipient elsewhere: only a client with the right
// to relay may send to it.
func (r *Relay) remote(q Query, m *maps.Maps, why string, conn maps.AccessEntry, connOK bool) Decision {
	client := q.Client
	if q.AuthUser != "" {
		if !client.IsValid() {
			// Local submission: the kernel named the user of the socket.
			return Decision{Class: Outbound, Mailbox: q.To.String(), Rule: why + "; local submission by user " + q.AuthUser}
		}
		return Decision{Class: Outbound, Mailbox: q.To.String(), Rule: why + "; client authenticated as " + q.AuthUser}
	}
	if client.IsValid() {
		c := client.Unmap()
		for _, p := range r.Trusted {
			if p.Contains(c) {
				return Decision{Class: Outbound, Mailbox: q.To.String(), Rule: fmt.Sprintf("%s; client %s is in trusted_networks %s", why, c, p)}
			}
		}
	}
	if connOK && conn.Action == maps.ActionRelay {
		return Decision{Class: Outbound, Mailbox: q.To.String(), Rule: why + "; client may relay: " + conn.Rule()}
	}
	if e, ok := certRelay(m, q.TLS); ok {
		return Decision{Class: Outbound, Mailbox: q.To.String(), Rule: fmt.Sprintf("%s; client certificate %s (issuer %s, verified) may relay: %s",
			why, q.TLS.Subject, q.TLS.Issuer, e.Rule())}
	}
	extra := ""
	if m != nil && q.HasFrom {
		if e, ok := m.Access.From(q.From.String()); ok && e.Action == maps.ActionRelay {
			if e.Relays(r.AllowSenderRelay) {
				return Decision{Class: Outbound, Mailbox: q.To.String(), Rule: why + "; sender may relay: " + e.Rule() + " (allow_sender_relay = true)"}
			}
			extra = "; " + e.Rule() + " not honoured: allow_sender_relay is false"
		}
	}
	rule := why + "; client is not in trusted_networks and not authenticated"
	if client.IsValid() {
		rule = fmt.Sprintf("%s; client %s is not in trusted_networks, has no access Connect: RELAY entry and is not authenticated", why, client.Unmap())
	}
	return Decision{Reply: smtp.ReplyRelayDenied, Rule: rule + extra}
}

// normTarget checks and normalises an address a map gave.
func normTarget(addr string) (string, error) {
	p, _, rep := smtp.ParseRcpt("TO:<"+addr+">", smtp.ParseOptions{SMTPUTF8: true})
	if rep != nil || p.Domain == "" {
		return "", fmt.Errorf("the target %q is not a valid address", addr)
	}
	local := p.Local
	if !strings.HasPrefix(local, `"`) {
		local = strings.ToLower(local)
	}
	return local + "@" + p.Domain, nil
}

func checkTarget(addr string) error {
	_, err := normTarget(addr)
	return err
}
