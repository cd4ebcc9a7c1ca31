package maps

import (
	"fmt"
	"net/netip"
	"strings"
)

// Action is the value part of an access-map entry.
type Action int

const (
	ActionNone       Action = iota // numeric or TLS entries carry no action
	ActionOK                       // accept even if other checks would refuse; not relaying
	ActionRelay                    // accept for relaying; implies OK
	ActionReject                   // refuse with a general message
	ActionDiscard                  // accept and throw the message away
	ActionSkip                     // stop searching; the default decision applies
	ActionError                    // refuse with the entry's code and text
	ActionQuarantine               // accept and hold, with Text as the reason
)

var actionNames = map[Action]string{
	ActionNone: "none", ActionOK: "OK", ActionRelay: "RELAY", ActionReject: "REJECT",
	ActionDiscard: "DISCARD", ActionSkip: "SKIP", ActionError: "ERROR", ActionQuarantine: "QUARANTINE",
}

func (a Action) String() string { return actionNames[a] }

// Tag names of the access map. Tags are matched case-insensitively.
const (
	TagConnect    = "Connect"
	TagFrom       = "From"
	TagTo         = "To"
	TagClientRate = "ClientRate"
	TagClientConn = "ClientConn"
	TagTryTLS     = "Try_TLS"
)

// ignoredTags are sendmail tags postern reads but does not use; an entry
// with one of them is skipped with a warning rather than rejected, so an
// existing /etc/mail/access can be copied as it is.
var ignoredTags = []string{
	"TLS_Rcpt", "Spam", "GreetPause", "Clt_Features", "Compat", "QGRP",
}

// TLSPolicy is the value of a Try_TLS: entry.
type TLSPolicy int

const (
	TLSDefault  TLSPolicy = iota // no entry: opportunistic STARTTLS
	TLSNever                     // sendmail's "NO": do not try STARTTLS with this peer
	TLSMay                       // try STARTTLS, fall back to plaintext
	TLSRequired                  // STARTTLS must succeed or delivery is deferred
)

func (p TLSPolicy) String() string {
	return [...]string{"default", "never", "may", "required"}[p]
}

// AccessEntry is one line of the access map, as found by a lookup.
type AccessEntry struct {
	Tag      string         // canonical tag ("Connect", "From", ...), "" for untagged
	Key      string         // normalised key as written (without the tag)
	Action   Action         // for Connect/From/To and untagged entries
	Code     int            // ActionError: reply code (4xx or 5xx)
	Enhanced string         // ActionError: RFC 3463 code, "" when the entry gave none
	Text     string         // ActionError text, ActionQuarantine reason
	Number   int            // ClientRate / ClientConn value
	TLS      TLSPolicy      // Try_TLS value
	Features Features       // Srv_Features value
	TLSReq   TLSRequirement // TLS_Clt / TLS_Srv value
	// CheckSubject: a CertIssuer: SUBJECT entry, which relays only for
	// subjects with a CertSubject: RELAY entry.
	CheckSubject bool
	Source       Source

	// Lookup is the kind of lookup that found the entry (TagConnect,
	// TagFrom, TagTo, ...): an untagged entry found by a From lookup has
	// Tag "" and Lookup "From".
	Lookup string
}

// Rule describes the entry for explanations: `access line 12: From:example.com REJECT`.
func (e AccessEntry) Rule() string {
	k := e.Key
	if e.Tag != "" {
		k = e.Tag + ":" + e.Key
	}
	return fmt.Sprintf("%s: %s %s", e.Source.Human(), k, e.value())
}

func (e AccessEntry) value() string {
	switch {
	case e.Tag == TagClientRate || e.Tag == TagClientConn:
		return fmt.Sprint(e.Number)
	case e.Tag == TagTryTLS:
		return e.TLS.String()
	case e.Tag == TagSrvFeatures:
		return e.Features.String()
	case e.Tag == TagTLSClt || e.Tag == TagTLSSrv:
		return e.TLSReq.String()
	case e.CheckSubject:
		return "SUBJECT"
	case e.Action == ActionError:
		if e.Enhanced != "" {
			return fmt.Sprintf("ERROR:%s:%d %s", e.Enhanced, e.Code, e.Text)
		}
		return fmt.Sprintf("ERROR:%d %s", e.Code, e.Text)
	case e.Action == ActionQuarantine:
		return "QUARANTINE:" + e.Text
	}
	return e.Action.String()
}

// Relays reports whether the entry grants relaying. A RELAY found by a
// sender (From) lookup is honoured only when allowSenderRelay is true: a
// sender address is trivially forged.
func (e AccessEntry) Relays(allowSenderRelay bool) bool {
	if e.Action != ActionRelay {
		return false
	}
	return e.Lookup != TagFrom || allowSenderRelay
}

// Reply gives the SMTP reply for a refusing entry (REJECT or ERROR). When
// the entry has no enhanced code, one of the right class is chosen (x.7.1,
// "delivery not authorized"), unlike sendmail which always said 5.0.0.
func (e AccessEntry) Reply() (code int, enhanced, text string) {
	switch e.Action {
	case ActionReject:
		// RFC 3463 3.8: X.7.1 delivery not authorized, message refused.
		return 550, "5.7.1", "access denied"
	case ActionError:
		enh := e.Enhanced
		if enh == "" {
			enh = fmt.Sprintf("%d.7.1", e.Code/100)
		}
		text := e.Text
		if text == "" {
			text = "access denied"
		}
		return e.Code, enh, text
	}
	return 0, "", ""
}

// accessKeys holds the entries of one tag (or of untagged keys), as
// indexes into Access.recs.
type accessKeys struct {
	names  map[string]int32 // host/domain names, addresses, user@, literals
	nets   netTable[int32]  // IP addresses and prefixes
	def    int32            // the tag alone ("ClientRate:"), a default, when hasDef
	hasDef bool
}

// Access is a parsed access map.
type Access struct {
	tags     map[string]*accessKeys // by canonical tag; "" = untagged
	recs     []accessRec            // every entry, in the order of its lines
	file     string                 // the file every entry comes from
	warnings []Warning
	n        int
	scratch  AccessEntry // the entry of the line being parsed
}

// name finds the entry of tag under the name s.
func (a *Access) name(k *accessKeys, s string) *accessRec {
	if k == nil {
		return nil
	}
	if i, ok := k.names[s]; ok {
		return &a.recs[i]
	}
	return nil
}

// net finds the entry of tag under the network p.
func (a *Access) net(k *accessKeys, p netip.Prefix) *accessRec {
	if k == nil {
		return nil
	}
	if i, ok := k.nets.m[p]; ok {
		return &a.recs[i]
	}
	return nil
}

// defaultOf is the default entry of tag (no key), or nil.
func (a *Access) defaultOf(tag string) *accessRec {
	if k := a.tags[tag]; k != nil && k.hasDef {
		return &a.recs[k.def]
	}
	return nil
}

// Len is the number of entries.
func (a *Access) Len() int {
	if a == nil {
		return 0
	}
	return a.n
}

// Warnings lists dangerous or ignored entries, for `postern check`.
func (a *Access) Warnings() []Warning {
	if a == nil {
		return nil
	}
	return a.warnings
}

// found gives the entry r as a lookup of kind lookup returns it.
func (a *Access) found(r *accessRec, lookup string) (AccessEntry, bool) {
	return r.entry(a.file, lookup), true
}

// byName tries tag:key, then (for Connect/From/To) the untagged key, as
// sendmail does for each key before moving on to the next one.
func (a *Access) byName(tag, key string) *accessRec {
	if e := a.name(a.tags[tag], key); e != nil {
		return e
	}
	if fallsBack(tag) {
		return a.name(a.tags[""], key)
	}
	return nil
}

// byKey is byName with the key in bytes.
func (a *Access) byKey(tag string, key []byte) *accessRec {
	if k := a.tags[tag]; k != nil {
		if i, ok := k.names[string(key)]; ok {
			return &a.recs[i]
		}
	}
	if k := a.tags[""]; k != nil && fallsBack(tag) {
		if i, ok := k.names[string(key)]; ok {
			return &a.recs[i]
		}
	}
	return nil
}

func fallsBack(tag string) bool { return tag == TagConnect || tag == TagFrom || tag == TagTo }

// byIP walks the prefixes of ip from the longest to the shortest, trying
// the tagged then the untagged entry at each length.
func (a *Access) byIP(tag string, ip netip.Addr) *accessRec {
	if !ip.IsValid() {
		return nil
	}
	t, u := a.tags[tag], a.tags[""]
	if !fallsBack(tag) {
		u = nil
	}
	if t == nil && u == nil {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	for b := ip.BitLen(); b >= 0; b-- {
		p, _ := ip.Prefix(b)
		if e := a.net(t, p); e != nil {
			return e
		}
		if e := a.net(u, p); e != nil {
			return e
		}
	}
	return nil
}

// byDomain tries the domain and then each parent domain on label
// boundaries; an address literal "[192.0.2.1]" is tried as it is and then
// with sendmail's shorter octet forms ("[192.0.2]", "[192.0]", "[192]").
func (a *Access) byDomain(tag, d string) *accessRec {
	if d == "" {
		return nil
	}
	if strings.HasPrefix(d, "[") {
		if e := a.byName(tag, d); e != nil {
			return e
		}
		in := strings.TrimSuffix(strings.TrimPrefix(d, "["), "]")
		for strings.Contains(in, ".") && !strings.Contains(in, ":") {
			in = in[:strings.LastIndexByte(in, '.')]
			if e := a.byName(tag, "["+in+"]"); e != nil {
				return e
			}
		}
		return nil
	}
	for k := d; ; {
		if e := a.byName(tag, k); e != nil {
			return e
		}
		i := strings.IndexByte(k, '.')
		if i < 0 {
			return nil
		}
		k = k[i+1:]
	}
}

// Connect looks up a connecting client, as sendmail's check_relay: first
// its host name (when known; "[192.0.2.1]" for a client without one) and
// parent domains, then its IP address and shorter prefixes, at each step
// the Connect: entry before the untagged one. The result may be
// ActionSkip: the search stops and the default decision applies.
func (a *Access) Connect(ip netip.Addr, hostname string) (AccessEntry, bool) {
	if a == nil {
		return AccessEntry{}, false
	}
	if hostname != "" {
		if e := a.byDomain(TagConnect, lookupDomainOrLiteral(hostname)); e != nil {
			return a.found(e, TagConnect)
		}
	}
	if e := a.byIP(TagConnect, ip); e != nil {
		return a.found(e, TagConnect)
	}
	return AccessEntry{}, false
}

// From looks up an envelope sender; "" or "<>" is the null sender and
// matches the key "<>".
func (a *Access) From(addr string) (AccessEntry, bool) { return a.address(TagFrom, addr) }

// To looks up an envelope recipient.
func (a *Access) To(addr string) (AccessEntry, bool) { return a.address(TagTo, addr) }

// address implements sendmail's order for addresses: the full address,
// then user@, then the domain and its parents. For user+detail, the full
// address is tried as user+detail@domain, user+*@domain, user@domain and
// user@ likewise (sendmail 8.12 and later).
func (a *Access) address(tag, addr string) (AccessEntry, bool) {
	if a == nil {
		return AccessEntry{}, false
	}
	if t := strings.TrimSpace(addr); t == "" || t == "<>" {
		if e := a.byName(tag, "<>"); e != nil {
			return a.found(e, tag)
		}
		return AccessEntry{}, false
	}
	local, domain, hasAt := normAddress(addr)
	// The keys tried are built in buf: a lookup allocates none of them.
	var arr [3]string
	var buf [256]byte
	users := append(arr[:0], local)
	if user, _, ok := strings.Cut(local, "+"); ok {
		users = append(users, user+"+*", user)
	}
	if hasAt {
		for _, u := range users {
			if e := a.byKey(tag, append(append(append(buf[:0], u...), '@'), domain...)); e != nil {
				return a.found(e, tag)
			}
		}
	}
	for _, u := range users {
		if e := a.byKey(tag, append(append(buf[:0], u...), '@')); e != nil {
			return a.found(e, tag)
		}
	}
	if hasAt {
		if e := a.byDomain(tag, domain); e != nil {
			return a.found(e, tag)
		}
	}
	return AccessEntry{}, false
}

// ClientRate finds the ClientRate: entry for a client: its address, then
// shorter prefixes, then the default entry "ClientRate:" with no key.
// Number is the connections per rate window allowed (0 = unlimited, as in
// sendmail).
func (a *Access) ClientRate(ip netip.Addr) (AccessEntry, bool) {
	return a.numeric(TagClientRate, ip)
}

// ClientConn finds the ClientConn: entry for a client (concurrent
// connections; 0 = unlimited), in the same order as ClientRate.
func (a *Access) ClientConn(ip netip.Addr) (AccessEntry, bool) {
	return a.numeric(TagClientConn, ip)
}

func (a *Access) numeric(tag string, ip netip.Addr) (AccessEntry, bool) {
	if a == nil {
		return AccessEntry{}, false
	}
	if e := a.byIP(tag, ip); e != nil {
		return a.found(e, tag)
	}
	if e := a.defaultOf(tag); e != nil {
		return a.found(e, tag)
	}
	return AccessEntry{}, false
}

// TryTLS finds the TLS policy for a server we deliver to: by its host name
// and parent domains, then by its address and shorter prefixes, then the
// default entry "Try_TLS:" with no key.
func (a *Access) TryTLS(host string, ip netip.Addr) (AccessEntry, bool) {
	return a.peer(TagTryTLS, host, ip)
}
