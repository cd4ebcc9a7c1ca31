package maps

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"postern/internal/smtp"
)

// normDomain gives the form of a domain name used for every comparison:
// lower case, one trailing dot stripped, U-labels converted to A-labels.
// Labels may hold letters, digits, '-' and '_' (host names in the wild
// carry underscores; map keys must still match them).
func normDomain(s string) (string, error) {
	return smtp.NormalizeName(s)
}

// lookupDomain normalises a domain given to a lookup. Input that does not
// normalise is only lower-cased, so a lookup never fails: it just finds
// nothing that a valid key would not also find.
func lookupDomain(s string) string {
	if d, err := normDomain(s); err == nil {
		return d
	}
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

// domainAndParents returns d and each parent domain on label boundaries,
// most specific first: host.example.com, example.com, com.
func domainAndParents(d string) []string {
	out := []string{d}
	for {
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return out
		}
		d = d[i+1:]
		out = append(out, d)
	}
}

// inDomain reports whether d is parent or a subdomain of it, on whole labels.
func inDomain(d, parent string) bool {
	return d == parent || strings.HasSuffix(d, "."+parent)
}

// splitAddress splits user@domain at the last '@'. An address without '@'
// has an empty domain and ok false.
func splitAddress(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr, "", false
	}
	return addr[:i], addr[i+1:], true
}

// normAddress normalises an address for lookups: local part lower-cased
// (sendmail's maps are case-insensitive), domain normalised, angle
// brackets stripped.
func normAddress(addr string) (local, domain string, hasAt bool) {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	local, domain, hasAt = splitAddress(addr)
	local = strings.ToLower(local)
	if hasAt {
		domain = lookupDomainOrLiteral(domain)
	}
	return local, domain, hasAt
}

// lookupDomainOrLiteral normalises a domain or an address literal
// ("[192.0.2.1]", "[IPv6:2001:db8::1]").
func lookupDomainOrLiteral(d string) string {
	if strings.HasPrefix(d, "[") {
		if a, err := parseLiteral(d); err == nil {
			return formatLiteral(a)
		}
		return strings.ToLower(d)
	}
	return lookupDomain(d)
}

// parseLiteral parses an address literal as in RFC 5321 4.1.3.
func parseLiteral(s string) (netip.Addr, error) {
	return smtp.ParseAddressLiteral(s)
}

// formatLiteral is the key form of an address literal: lower case, as
// every key is compared.
func formatLiteral(a netip.Addr) string {
	return strings.ToLower(smtp.FormatLiteral(a))
}

// normDomainOrLiteral validates and normalises a key that is a domain or an
// address literal.
func normDomainOrLiteral(s string) (string, error) {
	if strings.HasPrefix(s, "[") {
		a, err := parseLiteral(s)
		if err != nil {
			return "", err
		}
		return formatLiteral(a), nil
	}
	return normDomain(s)
}

// parseNetKey parses the network forms sendmail and postern accept as keys:
//
//	192.0.2.1           one IPv4 address (/32)
//	192.0.2 / 10        sendmail's octet prefix (/24, /8)
//	192.0.2.0/24        CIDR (postern extension)
//	IPv6:2001:db8::1    one IPv6 address (/128)
//	IPv6:2001:db8:2     sendmail's IPv6 prefix: leading groups (/48)
//	IPv6:2001:db8::/32  CIDR with or without the IPv6: tag
//
// ok is false when s is not a network form at all (it may be a host name);
// err is set when it is one but malformed.
func parseNetKey(s string) (p netip.Prefix, ok bool, err error) {
	v6tag := false
	if len(s) > 5 && strings.EqualFold(s[:5], "ipv6:") {
		s = s[5:]
		v6tag = true
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, true, fmt.Errorf("bad CIDR %q: %v", s, err)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, true, fmt.Errorf("bad CIDR %q: zones not allowed", s)
		}
		if v6tag && !p.Addr().Is6() {
			return netip.Prefix{}, true, fmt.Errorf("IPv6: tag on IPv4 CIDR %q", s)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, true, fmt.Errorf("IPv4-mapped CIDR %q: write it as IPv4", s)
		}
		if p != p.Masked() {
			return netip.Prefix{}, true, fmt.Errorf("CIDR %q has host bits set (network is %s)", s, p.Masked())
		}
		return p, true, nil
	}
	if v6tag || strings.Contains(s, ":") {
		if a, err := netip.ParseAddr(s); err == nil {
			if !a.Is6() || a.Zone() != "" || a.Is4In6() {
				return netip.Prefix{}, true, fmt.Errorf("bad IPv6 address %q", s)
			}
			return netip.PrefixFrom(a, 128), true, nil
		}
		// sendmail's IPv6 network form: 1 to 7 leading groups, no "::".
		if strings.Contains(s, "::") {
			return netip.Prefix{}, true, fmt.Errorf("bad IPv6 address %q", s)
		}
		groups := strings.Split(s, ":")
		if len(groups) > 7 {
			return netip.Prefix{}, true, fmt.Errorf("bad IPv6 prefix %q", s)
		}
		var b [16]byte
		for i, g := range groups {
			v, err := strconv.ParseUint(g, 16, 16)
			if err != nil || g == "" || len(g) > 4 {
				if !v6tag {
					return netip.Prefix{}, false, nil
				}
				return netip.Prefix{}, true, fmt.Errorf("bad IPv6 prefix %q", s)
			}
			b[2*i] = byte(v >> 8)
			b[2*i+1] = byte(v)
		}
		return netip.PrefixFrom(netip.AddrFrom16(b), 16*len(groups)), true, nil
	}
	// IPv4 address or sendmail's octet prefix: 1 to 4 decimal octets.
	if strings.Count(s, ".") > 3 {
		return netip.Prefix{}, false, nil
	}
	var b [4]byte
	i := 0
	for rest, more := s, true; more; i++ {
		var o string
		o, rest, more = strings.Cut(rest, ".")
		if o == "" || len(o) > 3 {
			return netip.Prefix{}, false, nil
		}
		v, err := strconv.Atoi(o)
		if err != nil {
			return netip.Prefix{}, false, nil
		}
		if v > 255 || (len(o) > 1 && o[0] == '0') {
			return netip.Prefix{}, true, fmt.Errorf("bad IPv4 octet %q in %q", o, s)
		}
		b[i] = byte(v)
	}
	return netip.PrefixFrom(netip.AddrFrom4(b), 8*i), true, nil
}

// netTable maps network prefixes to values; lookups find the longest
// matching prefix first, as sendmail does with octet prefixes.
type netTable[V any] struct {
	m map[netip.Prefix]V
}

func (t *netTable[V]) put(p netip.Prefix, v V) (old V, dup bool) {
	if t.m == nil {
		t.m = make(map[netip.Prefix]V)
	}
	old, dup = t.m[p]
	if !dup {
		t.m[p] = v
	}
	return old, dup
}

// prefixes returns the prefixes of ip from the longest to the shortest.
func ipPrefixes(ip netip.Addr) []netip.Prefix {
	ip = ip.Unmap().WithZone("")
	bits := ip.BitLen()
	out := make([]netip.Prefix, 0, bits+1)
	for b := bits; b >= 0; b-- {
		p, _ := ip.Prefix(b)
		out = append(out, p)
	}
	return out
}
