package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// NormalizeDomain returns domain in the form postern compares: lower
// case, without a trailing dot, international labels as IDNA A-labels
// ("xn--..."). It rejects what is not a host name (IP literals, empty
// labels, underscores, over-long names).
func NormalizeDomain(domain string) (string, error) {
	d := strings.TrimSuffix(strings.TrimSpace(domain), ".")
	if d == "" {
		return "", errors.New("empty domain name")
	}
	if strings.HasPrefix(d, "[") || isIPAddr(d) {
		return "", fmt.Errorf("%q is an IP address, not a domain name", domain)
	}
	// RFC 5890 / UTS 46: map to lower case and to A-labels, with the
	// STD3 host name rules.
	a, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid domain name: %v", domain, err)
	}
	a = strings.ToLower(a)
	// RFC 1035 2.3.4: at most 255 octets, labels of at most 63.
	if len(a) > 253 {
		return "", fmt.Errorf("%q is longer than 253 characters", domain)
	}
	for _, l := range strings.Split(a, ".") {
		if l == "" {
			return "", fmt.Errorf("%q has an empty label", domain)
		}
		if len(l) > 63 {
			return "", fmt.Errorf("%q has a label longer than 63 characters", domain)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("%q is not a valid domain name: character %q", domain, c)
			}
		}
	}
	return a, nil
}

func isIPAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// parsePrefix parses a trusted network: a CIDR prefix or a bare address
// (a /32 or /128). IPv4-mapped IPv6 forms are turned into IPv4. A prefix
// with host bits set is masked, with a warning.
func parsePrefix(s string) (p netip.Prefix, warn string, err error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "%") {
		return p, "", fmt.Errorf("%q: zoned addresses are not allowed", s)
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, "", fmt.Errorf("%q is not an IP address or CIDR network", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), "", nil
	}
	p, err = netip.ParsePrefix(s)
	if err != nil {
		return p, "", fmt.Errorf("%q is not a CIDR network such as 192.0.2.0/24 or 2001:db8::/32", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		warn = fmt.Sprintf("%s has host bits set; using %s", s, m)
		p = m
	}
	return p, warn, nil
}
