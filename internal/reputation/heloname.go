package reputation

import (
	"errors"
	"net/netip"
	"strings"

	"postern/internal/smtp"
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
		a, err := smtp.ParseAddressLiteral(s)
		if err != nil {
			return HeloName{}, err
		}
		return HeloName{Literal: a}, nil
	}
	if _, err := netip.ParseAddr(strings.TrimSuffix(s, ".")); err == nil {
		return HeloName{}, errors.New("a bare IP address; an address literal is written in brackets, such as [192.0.2.1]")
	}
	// RFC 6531 3.7.1: EHLO comes before SMTPUTF8 is agreed, so the name
	// is ASCII (A-labels); RFC 5321 4.1.2: sub-domain = Let-dig [Ldh-str].
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return HeloName{}, errors.New("character not allowed in a domain name (write U-labels as A-labels, xn--)")
		}
	}
	d, err := smtp.NormalizeDomain(s)
	if err != nil {
		return HeloName{}, err
	}
	return HeloName{Domain: d}, nil
}
