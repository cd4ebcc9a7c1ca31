package reputation

import (
	"errors"
	"net/netip"
	"strings"
)

// HeloName is a parsed HELO/EHLO argument.
type HeloName struct {
	Domain  string     // lower case, no trailing dot; "" for a literal
	Literal netip.Addr // valid for an address literal
}

// IsLiteral reports whether the name is an address literal.
func (h HeloName) IsLiteral() bool { return h.Literal.IsValid() }

// FQDN reports whether the domain has at least two labels.
func (h HeloName) FQDN() bool { return strings.Contains(h.Domain, ".") }

// ParseHelo checks the HELO/EHLO argument's syntax: a domain or an
// address literal.
func ParseHelo(s string) (HeloName, error) {
	// RFC 5321 4.1.1.1: ehlo = "EHLO" SP ( Domain / address-literal ) CRLF.
	if s == "" {
		return HeloName{}, errors.New("empty name")
	}
	if len(s) > 255 {
		// RFC 5321 4.5.3.1.2: a domain is at most 255 octets.
		return HeloName{}, errors.New("name longer than 255 characters")
	}
	if s[0] == '[' {
		return parseLiteral(s)
	}
	d := strings.TrimSuffix(s, ".")
	if d == "" {
		return HeloName{}, errors.New("empty name")
	}
	for _, label := range strings.Split(d, ".") {
		if err := checkLabel(label); err != nil {
			return HeloName{}, err
		}
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return HeloName{}, errors.New("a bare IP address; an address literal is written in brackets, such as [192.0.2.1]")
	}
	return HeloName{Domain: strings.ToLower(d)}, nil
}

// checkLabel checks one sub-domain: letters, digits and inner hyphens
// (RFC 5321 4.1.2: sub-domain = Let-dig [Ldh-str]).
func checkLabel(l string) error {
	if l == "" {
		return errors.New("empty label (two dots in a row)")
	}
	if len(l) > 63 {
		// RFC 1035 2.3.4: labels are 63 octets or less.
		return errors.New("label longer than 63 characters")
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(l)-1:
		case c == '-':
			return errors.New("label starts or ends with a hyphen")
		default:
			return errors.New("character not allowed in a domain name")
		}
	}
	return nil
}

func parseLiteral(s string) (HeloName, error) {
	inner, ok := strings.CutSuffix(s[1:], "]")
	if !ok {
		return HeloName{}, errors.New("address literal without closing ]")
	}
	var a netip.Addr
	var err error
	if v6, ok := cutPrefixFold(inner, "IPv6:"); ok {
		// RFC 5321 4.1.3: IPv6-address-literal = "IPv6:" IPv6-addr.
		a, err = netip.ParseAddr(v6)
		if err != nil || !a.Is6() || a.Is4In6() && !strings.Contains(v6, ":") || a.Zone() != "" {
			return HeloName{}, errors.New("bad IPv6 address literal")
		}
	} else {
		// RFC 5321 4.1.3: IPv4-address-literal = Snum 3("." Snum).
		a, err = netip.ParseAddr(inner)
		if err != nil || !a.Is4() {
			return HeloName{}, errors.New("bad address literal (IPv6 ones start with IPv6:)")
		}
	}
	return HeloName{Literal: a.Unmap()}, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
