package maps

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The access map's per-peer TLS and feature tags, with sendmail's
// meaning (cf/README "STARTTLS", "Srv_Features"):
//
//	Srv_Features:<client>  letters that turn what we offer a client on (lower case) or off (upper case)
//	TLS_Clt:<client>       VERIFY[:bits] or ENCR:bits that a client must meet before MAIL
//	TLS_Srv:<server>       VERIFY[:bits] or ENCR:bits that a server we deliver to must meet
//	CertIssuer:<DN>        RELAY (any verified certificate of that issuer) or SUBJECT (see CertSubject:)
//	CertSubject:<DN>       RELAY: a verified certificate with that subject, of a SUBJECT issuer
//
// Clients and servers are looked up by host name (and parent domains),
// then address (and shorter prefixes), then the tag's default (no key,
// Srv_Features: only). DNs are written as sendmail prints them
// ("/C=US/O=Example/CN=Example CA"), xtext-encoded ("+20" for a space);
// they are compared without regard to case.
const (
	TagSrvFeatures = "Srv_Features"
	TagTLSClt      = "TLS_Clt"
	TagTLSSrv      = "TLS_Srv"
	TagCertIssuer  = "CertIssuer"
	TagCertSubject = "CertSubject"
)

// isHostTag: keys are host names or addresses, never mail addresses.
func isHostTag(tag string) bool {
	switch tag {
	case TagConnect, TagTryTLS, TagSrvFeatures, TagTLSClt, TagTLSSrv:
		return true
	}
	return false
}

func isCertTag(tag string) bool { return tag == TagCertIssuer || tag == TagCertSubject }

// Features is a Srv_Features: value: for each letter, whether it was
// turned on or off.
type Features struct {
	on, off uint32 // bit i: letter 'a'+i
}

// The Srv_Features: letters postern acts on; b (VERB), e (ETRN) and x
// (EXPN) are read and have no effect, since postern never offers them.
const featureLetters = "abdelpstvx"

// ParseFeatures reads letters such as "S V" or "sV": lower case turns a
// feature on, upper case off; "t" refuses the connection for now.
func ParseFeatures(s string) (Features, error) {
	var f Features
	seen := false
	for _, c := range s {
		if c == ' ' || c == '\t' {
			continue
		}
		lc := c | 0x20
		if c > 0x7f || !strings.ContainsRune(featureLetters, lc) || c == 'T' {
			return Features{}, fmt.Errorf("Srv_Features: unknown letter %q (want letters of %q, lower case on, upper case off)", c, featureLetters)
		}
		bit := uint32(1) << (lc - 'a')
		if c == lc {
			f.on |= bit
		} else {
			f.off |= bit
		}
		seen = true
	}
	if !seen {
		return Features{}, fmt.Errorf("Srv_Features: no letters")
	}
	return f, nil
}

// Feature says whether letter (lower case) was turned on or off, and
// whether the entry said anything about it.
func (f Features) Feature(letter byte) (on, set bool) {
	bit := uint32(1) << (letter - 'a')
	switch {
	case f.on&bit != 0:
		return true, true
	case f.off&bit != 0:
		return false, true
	}
	return false, false
}

func (f Features) String() string {
	var b strings.Builder
	for i := 0; i < len(featureLetters); i++ {
		c := featureLetters[i]
		if on, set := f.Feature(c); set {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			if !on {
				c -= 0x20
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TLSRequirement is a TLS_Clt: or TLS_Srv: value.
type TLSRequirement struct {
	Verify bool // VERIFY: a certificate that verifies; else ENCR: encryption only
	Bits   int  // the least cipher strength in bits; 0: any
}

func (r TLSRequirement) String() string {
	s := "ENCR"
	if r.Verify {
		s = "VERIFY"
	}
	if r.Bits > 0 {
		s += ":" + strconv.Itoa(r.Bits)
	}
	return s
}

// parseTLSRequirement reads VERIFY, VERIFY:bits or ENCR:bits.
func parseTLSRequirement(tag, v string) (TLSRequirement, error) {
	word, bits, hasBits := strings.Cut(strings.TrimSpace(v), ":")
	var r TLSRequirement
	switch strings.ToUpper(word) {
	case "VERIFY":
		r.Verify = true
	case "ENCR":
		if !hasBits {
			return r, fmt.Errorf("%s: ENCR needs a strength in bits (ENCR:128)", tag)
		}
	default:
		return r, fmt.Errorf("%s: unknown value %q: want VERIFY, VERIFY:bits or ENCR:bits", tag, v)
	}
	if hasBits {
		n, err := strconv.Atoi(bits)
		if err != nil || n < 1 || n > 4096 || !isDigits(bits) {
			return r, fmt.Errorf("%s: bad strength %q in %q (bits, such as 128)", tag, bits, v)
		}
		r.Bits = n
	}
	return r, nil
}

// parsePeerValue reads the value of one of the tags above into e; ok is
// false for other tags.
func parsePeerValue(e *AccessEntry, val string) (ok bool, err error) {
	switch e.Tag {
	case TagSrvFeatures:
		e.Features, err = ParseFeatures(val)
	case TagTLSClt, TagTLSSrv:
		e.TLSReq, err = parseTLSRequirement(e.Tag, val)
	case TagCertIssuer:
		switch strings.ToUpper(strings.TrimSpace(val)) {
		case "RELAY":
			e.Action = ActionRelay
		case "SUBJECT":
			e.Action, e.CheckSubject = ActionRelay, true
		default:
			err = fmt.Errorf("CertIssuer: unknown value %q: want RELAY or SUBJECT", val)
		}
	case TagCertSubject:
		if !strings.EqualFold(strings.TrimSpace(val), "RELAY") {
			err = fmt.Errorf("CertSubject: unknown value %q: want RELAY", val)
		}
		e.Action = ActionRelay
	default:
		return false, nil
	}
	return true, err
}

// certKey is the lookup form of a DN key: "+XX" hex escapes decoded (as
// sendmail's ${cert_issuer} has them; "=" and "/" stand as they are),
// lower case.
func certKey(k string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c != '+' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(k) || !isHex(k[i+1]) || !isHex(k[i+2]) {
			return "", fmt.Errorf("certificate name %q: \"+\" must be followed by two hex digits (+20 for a space)", k)
		}
		n, _ := strconv.ParseUint(k[i+1:i+3], 16, 8)
		b.WriteByte(byte(n))
		i += 2
	}
	return strings.ToLower(b.String()), nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f' }

// SrvFeatures finds the Srv_Features: entry for a client.
func (a *Access) SrvFeatures(hostname string, ip netip.Addr) (AccessEntry, bool) {
	return a.peer(TagSrvFeatures, hostname, ip)
}

// TLSClient finds the TLS_Clt: entry for a client.
func (a *Access) TLSClient(hostname string, ip netip.Addr) (AccessEntry, bool) {
	return a.peer(TagTLSClt, hostname, ip)
}

// TLSServer finds the TLS_Srv: entry for a server we deliver to.
func (a *Access) TLSServer(host string, ip netip.Addr) (AccessEntry, bool) {
	return a.peer(TagTLSSrv, host, ip)
}

// CertRelay finds the entry that lets a client with a verified
// certificate of issuer and subject (DNs as sendmail prints them) relay:
// CertIssuer:<issuer> RELAY, or SUBJECT and CertSubject:<subject> RELAY.
func (a *Access) CertRelay(issuer, subject string) (AccessEntry, bool) {
	if a == nil || issuer == "" {
		return AccessEntry{}, false
	}
	e := a.byName(TagCertIssuer, strings.ToLower(issuer))
	if e == nil {
		return AccessEntry{}, false
	}
	if !e.checkSubj {
		return a.found(e, TagCertIssuer)
	}
	if s := a.byName(TagCertSubject, strings.ToLower(subject)); s != nil && subject != "" {
		return a.found(s, TagCertSubject)
	}
	return AccessEntry{}, false
}

// peer looks up a host tag: host name and parents, address and
// prefixes, default.
func (a *Access) peer(tag, host string, ip netip.Addr) (AccessEntry, bool) {
	if a == nil {
		return AccessEntry{}, false
	}
	if host != "" {
		if e := a.byDomain(tag, lookupDomainOrLiteral(host)); e != nil {
			return a.found(e, tag)
		}
	}
	if ip.IsValid() {
		if e := a.byIP(tag, ip); e != nil {
			return a.found(e, tag)
		}
	}
	if e := a.defaultOf(tag); e != nil {
		return a.found(e, tag)
	}
	return AccessEntry{}, false
}
