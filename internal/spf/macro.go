package spf

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	pdns "postern/internal/dns"
)

// macroEnv is what macros expand to for one check (RFC 7208 7.2).
type macroEnv struct {
	ctx      context.Context
	resolver pdns.Resolver
	ip       netip.Addr
	sender   string // local@domain
	helo     string
	domain   string // the <domain> of the current check_host()
	receiver string
	now      time.Time
}

// expand expands a macro-string. exp allows the letters c, r and t, which
// only explanation text may use (RFC 7208 7.1).
func (e *macroEnv) expand(s string, exp bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("lone % at the end")
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
			continue
		case '_':
			b.WriteByte(' ')
			continue
		case '-':
			b.WriteString("%20")
			continue
		case '{':
		default:
			return "", errors.New("invalid macro")
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New("unterminated macro")
		}
		m, err := parseMacro(s[i+1:i+end], exp)
		if err != nil {
			return "", err
		}
		i += end
		b.WriteString(m.apply(e.value(m.letter)))
	}
	return b.String(), nil
}

// value returns the raw value of a macro letter (RFC 7208 7.2).
func (e *macroEnv) value(letter byte) string {
	local, domain := splitSender(e.sender)
	switch letter {
	case 's':
		return e.sender
	case 'l':
		return local
	case 'o':
		return domain
	case 'd':
		return e.domain
	case 'i':
		return dottedIP(e.ip)
	case 'p':
		return e.validatedName()
	case 'v':
		if e.ip.Is4() {
			return "in-addr"
		}
		return "ip6"
	case 'h':
		return e.helo
	case 'c':
		return e.ip.String()
	case 'r':
		if e.receiver == "" {
			return "unknown"
		}
		return e.receiver
	case 't':
		return strconv.FormatInt(e.now.Unix(), 10)
	}
	return ""
}

// apply transforms a value: split on the delimiters, optionally reverse,
// keep the rightmost digits parts, join with "." (RFC 7208 7.3); upper
// case letters URL-escape the result.
func (m macro) apply(v string) string {
	delims := m.delims
	if delims == "" {
		delims = "."
	}
	parts := splitAll(v, delims)
	if m.reverse {
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	if m.digits > 0 && m.digits < len(parts) {
		parts = parts[len(parts)-m.digits:]
	}
	out := strings.Join(parts, ".")
	if m.upper {
		out = urlEscape(out)
	}
	return out
}

func splitAll(v, delims string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(v); i++ {
		if strings.IndexByte(delims, v[i]) >= 0 {
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	return append(parts, v[start:])
}

// urlEscape escapes everything but the RFC 3986 unreserved characters
// (RFC 7208 7.3).
func urlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// dottedIP gives the "i" macro: dotted quad for IPv4, dot-separated
// nibbles for IPv6 (RFC 7208 7.3).
func dottedIP(ip netip.Addr) string {
	if ip.Is4() {
		return ip.String()
	}
	b := ip.As16()
	var s strings.Builder
	const hex = "0123456789abcdef"
	for i, x := range b {
		if i > 0 {
			s.WriteByte('.')
		}
		s.WriteByte(hex[x>>4])
		s.WriteByte('.')
		s.WriteByte(hex[x&15])
	}
	return s.String()
}

// validatedName gives the "p" macro: a PTR name of the client whose
// forward lookup gives the client's address back, preferring the checked
// domain or a subdomain of it (RFC 7208 7.3), or "unknown".
func (e *macroEnv) validatedName() string {
	names, err := e.resolver.LookupAddr(e.ctx, e.ip.String())
	if err != nil {
		return "unknown"
	}
	// RFC 7208 4.6.4: at most 10 PTR names are looked at.
	if len(names) > 10 {
		names = names[:10]
	}
	var found []string
	for _, n := range names {
		addrs, err := e.resolver.LookupIPAddr(e.ctx, n)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == e.ip.Unmap() {
				found = append(found, strings.TrimSuffix(n, "."))
				break
			}
		}
	}
	if len(found) == 0 {
		return "unknown"
	}
	d := strings.ToLower(strings.TrimSuffix(e.domain, "."))
	for _, n := range found {
		ln := strings.ToLower(n)
		if ln == d || strings.HasSuffix(ln, "."+d) {
			return n
		}
	}
	return found[0]
}

// splitSender splits local@domain at the last "@".
func splitSender(s string) (local, domain string) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return "postmaster", s
	}
	return s[:i], s[i+1:]
}
