package smtp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// RFC 5321 4.5.3.1.1 and 4.5.3.1.3: size limits of a local part and of a
// whole reverse- or forward-path (counted with its angle brackets).
const (
	maxLocalLen = 64
	maxPathLen  = 256
)

// Path is a parsed reverse- or forward-path.
type Path struct {
	// Local is the local part as on the wire: a dot-string, or a
	// quoted-string with its quotes kept ("\"a@evil\""). Nothing inside is
	// rewritten: "%" and "!" are ordinary characters, never routing.
	Local string
	// Domain is normalised: lower-case A-labels without a trailing dot, or
	// an address literal in canonical form ("[192.0.2.1]",
	// "[IPv6:2001:db8::1]"). It is "" for the null path and for the bare
	// <postmaster> recipient.
	Domain string
}

// IsNull reports whether p is the null reverse-path <>.
func (p Path) IsNull() bool { return p.Local == "" && p.Domain == "" }

// String returns "local@domain", "" for the null path and "postmaster" for
// the bare <postmaster> recipient.
func (p Path) String() string {
	if p.Domain == "" {
		return p.Local
	}
	return p.Local + "@" + p.Domain
}

// IsPostmaster reports whether p is the bare <postmaster> recipient
// (RFC 5321 4.5.1), which names the postmaster of the receiving host.
func (p Path) IsPostmaster() bool { return p.Domain == "" && p.Local == "postmaster" }

// IsLiteral reports whether the domain is an address literal.
func (p Path) IsLiteral() bool { return strings.HasPrefix(p.Domain, "[") }

// LiteralAddr returns the address of an address-literal domain.
func (p Path) LiteralAddr() (netip.Addr, bool) {
	if !p.IsLiteral() {
		return netip.Addr{}, false
	}
	a, err := ParseAddressLiteral(p.Domain)
	if err != nil {
		return netip.Addr{}, false
	}
	return a, true
}

// errNeedUTF8 marks a path that would be valid with SMTPUTF8 only.
var errNeedUTF8 = errors.New("non-ASCII address without SMTPUTF8")

// splitPath cuts the leading "<...>" off s, honouring quoted strings (a ">"
// inside quotes does not end the path). It returns the path with its
// brackets and what follows.
func splitPath(s string) (path, rest string, err error) {
	if s == "" || s[0] != '<' {
		// RFC 5321 4.1.2: Path = "<" [ A-d-l ":" ] Mailbox ">"; brackets are required.
		return "", "", errors.New("path not in angle brackets")
	}
	inQuote := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '>':
			return s[:i+1], s[i+1:], nil
		case !inQuote && c == '<':
			return "", "", errors.New("'<' inside path")
		}
	}
	return "", "", errors.New("unterminated path")
}

// parsePath parses a path with its angle brackets. utf8ok allows non-ASCII
// local parts and U-labels (RFC 6531). The bare "<postmaster>" and the null
// path "<>" are returned as such; the callers decide where they are allowed.
func parsePath(s string, utf8ok bool) (Path, error) {
	if len(s) > maxPathLen {
		return Path{}, fmt.Errorf("path longer than %d octets", maxPathLen)
	}
	if len(s) < 2 || s[0] != '<' || s[len(s)-1] != '>' {
		return Path{}, errors.New("path not in angle brackets")
	}
	inner := s[1 : len(s)-1]
	if inner == "" {
		return Path{}, nil
	}
	if !isASCII(inner) {
		if !utf8.ValidString(inner) {
			return Path{}, errors.New("path is not valid UTF-8")
		}
		if !utf8ok {
			// RFC 6531 3.4: non-ASCII addresses only with the SMTPUTF8 parameter.
			return Path{}, errNeedUTF8
		}
	}
	if inner[0] == '@' {
		// RFC 5321 4.1.2 and C: a source route (A-d-l) is accepted and
		// ignored; the mailbox after it is the real destination.
		i := strings.IndexByte(inner, ':')
		if i < 0 {
			return Path{}, errors.New("source route without ':'")
		}
		for _, hop := range strings.Split(inner[:i], ",") {
			if len(hop) < 2 || hop[0] != '@' {
				return Path{}, fmt.Errorf("bad source route hop %q", hop)
			}
			if _, err := NormalizeDomain(hop[1:]); err != nil {
				return Path{}, fmt.Errorf("bad source route hop %q", hop)
			}
		}
		inner = inner[i+1:]
		if inner == "" || !strings.Contains(inner, "@") {
			return Path{}, errors.New("source route without mailbox")
		}
	}
	return parseMailbox(inner)
}

// parseMailbox parses RFC 5321 4.1.2 Mailbox = Local-part "@" ( Domain /
// address-literal ), extended by RFC 6531 3.3 (UTF-8 already vetted by the
// caller). A bare "postmaster" is returned with an empty domain.
func parseMailbox(s string) (Path, error) {
	var local, rest string
	if s[0] == '"' {
		n, err := scanQuoted(s)
		if err != nil {
			return Path{}, err
		}
		local, rest = s[:n], s[n:]
	} else {
		n := strings.IndexByte(s, '@')
		if n < 0 {
			// RFC 5321 4.5.1: <postmaster> without a domain must be accepted (RCPT only).
			if strings.EqualFold(s, "postmaster") {
				return Path{Local: "postmaster"}, nil
			}
			return Path{}, errors.New("address without domain")
		}
		local, rest = s[:n], s[n:]
		if err := checkDotString(local); err != nil {
			return Path{}, err
		}
	}
	if len(local) > maxLocalLen && !IsSRSLocal(local) {
		return Path{}, fmt.Errorf("local part longer than %d octets", maxLocalLen)
	}
	if rest == "" || rest[0] != '@' {
		return Path{}, errors.New("no '@' after local part")
	}
	dom := rest[1:]
	if dom == "" {
		return Path{}, errors.New("empty domain")
	}
	if dom[0] == '[' {
		a, err := ParseAddressLiteral(dom)
		if err != nil {
			return Path{}, err
		}
		if a.Is4() && strings.Contains(dom, ":") {
			// A mailbox has one spelling: an IPv4-mapped literal is refused,
			// not read as the IPv4 address it hides.
			return Path{}, fmt.Errorf("IPv4-mapped address literal %q: write it as IPv4", dom)
		}
		return Path{Local: local, Domain: FormatLiteral(a)}, nil
	}
	if strings.IndexByte(dom, '@') >= 0 {
		return Path{}, errors.New("more than one '@'")
	}
	d, err := NormalizeDomain(dom)
	if err != nil {
		return Path{}, err
	}
	return Path{Local: local, Domain: d}, nil
}

// IsSRSLocal reports whether a local part starts as an SRS address does
// (SRS0 or SRS1, in any case, and "=", "+" or "-"). Such local parts may
// be longer than 64 octets: they carry the original sender (RFC 5321
// 4.5.3.1 asks to accept longer ones where possible), and postern must
// take the bounces to those it hands out. The path limit still holds.
func IsSRSLocal(local string) bool {
	return len(local) > 4 && strings.EqualFold(local[:3], "SRS") && (local[3] == '0' || local[3] == '1') &&
		strings.IndexByte("=+-", local[4]) >= 0
}

// scanQuoted returns the length of the quoted-string at the start of s,
// quotes included (RFC 5321 4.1.2 Quoted-string, RFC 6531 3.3).
func scanQuoted(s string) (int, error) {
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			// quoted-pairSMTP = %d92 %d32-126
			if i+1 >= len(s) || s[i+1] < 32 || s[i+1] > 126 {
				return 0, errors.New("bad quoted-pair in local part")
			}
			i++
		case c >= 32 && c <= 126, c >= 0x80:
			// qtextSMTP = %d32-33 / %d35-91 / %d93-126, =/ UTF8-non-ascii
		default:
			return 0, fmt.Errorf("control character 0x%02X in quoted local part", c)
		}
	}
	return 0, errors.New("unbalanced quote in local part")
}

// checkDotString validates RFC 5321 4.1.2 Dot-string = Atom *("." Atom).
func checkDotString(s string) error {
	if s == "" {
		return errors.New("empty local part")
	}
	prevDot := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if prevDot {
				return errors.New("empty atom in local part")
			}
			prevDot = true
			continue
		}
		prevDot = false
		if !isAtext(c) {
			return fmt.Errorf("character %q not allowed in local part", c)
		}
	}
	if prevDot {
		return errors.New("local part ends with '.'")
	}
	return nil
}

// isAtext reports RFC 5322 3.2.3 atext, plus RFC 6531 3.3 UTF8-non-ascii
// (its validity is checked on the whole path).
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// ParseAddressLiteral parses "[192.0.2.1]" or "[IPv6:2001:db8::1]"
// (RFC 5321 4.1.3). General address literals ("[tag:...]"), zones and
// IPv4-mapped IPv6 literals are refused.
func ParseAddressLiteral(s string) (netip.Addr, error) {
	if len(s) < 2 || s[0] != '[' {
		return netip.Addr{}, fmt.Errorf("bad address literal %q", s)
	}
	if s[len(s)-1] != ']' {
		return netip.Addr{}, fmt.Errorf("address literal %q without closing ]", s)
	}
	in := s[1 : len(s)-1]
	// RFC 5321 4.1.3: IPv6-address-literal = "IPv6:" IPv6-addr (tag case-insensitive).
	if len(in) > 5 && strings.EqualFold(in[:5], "IPv6:") {
		a, err := netip.ParseAddr(in[5:])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}, fmt.Errorf("bad IPv6 address literal %q", s)
		}
		// An IPv4-mapped literal is a second spelling of an IPv4 address.
		return a.Unmap(), nil
	}
	// RFC 5321 4.1.3: IPv4-address-literal = Snum 3("."  Snum); netip refuses leading zeros.
	a, err := netip.ParseAddr(in)
	if err == nil && a.Is6() {
		return netip.Addr{}, fmt.Errorf("bad address literal %q: IPv6 literals start with IPv6:", s)
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bad or unsupported address literal %q", s)
	}
	return a, nil
}

// FormatLiteral writes a as an address literal, the form
// ParseAddressLiteral reads.
func FormatLiteral(a netip.Addr) string {
	if a.Is4() {
		return "[" + a.String() + "]"
	}
	return "[IPv6:" + a.String() + "]"
}
