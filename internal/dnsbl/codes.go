package dnsbl

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Codes is the set of answers that mean "listed" for one list. A list
// answers with an address in 127.0.0.0/8 whose value says why the client
// is listed; only some values may count (Spamhaus ZEN answers 127.0.0.2
// to 127.0.0.11 for listings, 127.255.255.x for query errors).
//
// The zero Codes counts every answer in 127.0.0.0/24, as sendmail's
// enhdnsbl does without return values ("127.0.0.").
type Codes struct {
	pats []pattern
}

// pattern is one spec: four octet sets, or a bit mask.
type pattern struct {
	spec   string
	octets [4]octetSet
	mask   [4]byte // non-zero mask: any answer sharing a bit counts
	isMask bool
}

// octetSet is a set of byte values as a bitmap.
type octetSet [4]uint64

func (s *octetSet) add(lo, hi int) {
	for v := lo; v <= hi; v++ {
		s[v/64] |= 1 << (v % 64)
	}
}

func (s *octetSet) has(v byte) bool { return s[v/64]&(1<<(v%64)) != 0 }

// maxSpecLen bounds one spec; real ones are short.
const maxSpecLen = 256

// ParseCodes parses return-code specs. Each spec is one of:
//
//	127.0.0.2            one answer
//	127.0.0.2.           the same, sendmail style (trailing dot)
//	127.0.0.             every answer starting so (sendmail enhdnsbl)
//	127.0.0.[2-11]       per octet: a number, *, or [a-b], [a..b] and
//	127.0.0.[2,4,9..11]  lists of those separated by "," or ";"
//	127.0.0.0/29         a CIDR network
//	&0.0.0.4             a bit mask: an answer with any of these bits set
//
// A spec may also hold several of these separated by commas or spaces.
// No specs at all means the default, 127.0.0.0/24.
func ParseCodes(specs []string) (Codes, error) {
	var c Codes
	for _, s := range specs {
		for _, f := range splitSpecs(s) {
			p, err := parsePattern(f)
			if err != nil {
				return Codes{}, err
			}
			c.pats = append(c.pats, p)
		}
	}
	return c, nil
}

// splitSpecs splits on commas and spaces outside brackets.
func splitSpecs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',', ' ', '\t':
			if depth <= 0 {
				if i > start {
					out = append(out, s[start:i])
				}
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func parsePattern(spec string) (pattern, error) {
	p := pattern{spec: spec}
	bad := func(why string) (pattern, error) {
		return pattern{}, fmt.Errorf("return code %q: %s", truncate(spec), why)
	}
	if len(spec) > maxSpecLen {
		return bad("too long")
	}
	if rest, ok := strings.CutPrefix(spec, "&"); ok {
		a, err := netip.ParseAddr(rest)
		if err != nil || !a.Is4() {
			return bad("a mask is & and an IPv4 address, such as &0.0.0.4")
		}
		p.mask, p.isMask = a.As4(), true
		if p.mask == [4]byte{} {
			return bad("a zero mask matches nothing")
		}
		return p, nil
	}
	if strings.Contains(spec, "/") {
		pr, err := netip.ParsePrefix(spec)
		if err != nil || !pr.Addr().Is4() {
			return bad("not an IPv4 network such as 127.0.0.0/24")
		}
		pr = pr.Masked()
		lo := pr.Addr().As4()
		hostBits := 32 - pr.Bits()
		for i := 0; i < 4; i++ {
			// Bits of this octet that are host bits.
			free := hostBits - (3-i)*8
			switch {
			case free <= 0:
				p.octets[i].add(int(lo[i]), int(lo[i]))
			case free >= 8:
				p.octets[i].add(0, 255)
			default:
				p.octets[i].add(int(lo[i]), int(lo[i])|(1<<free-1))
			}
		}
		return p, nil
	}
	s := strings.TrimSuffix(spec, ".")
	parts := splitOctets(s)
	if len(parts) > 4 {
		return bad("more than four octets")
	}
	// A trailing dot on fewer than four octets is a prefix (sendmail:
	// "127.0.0." matches 127.0.0.anything); without it, four are needed.
	if len(parts) < 4 && !strings.HasSuffix(spec, ".") {
		return bad("want four octets, or a prefix ending in a dot such as 127.0.0.")
	}
	for i := 0; i < 4; i++ {
		if i >= len(parts) {
			p.octets[i].add(0, 255)
			continue
		}
		if err := parseOctet(parts[i], &p.octets[i]); err != nil {
			return bad(err.Error())
		}
	}
	return p, nil
}

// splitOctets splits on dots outside brackets ("[1..3]" has dots).
func splitOctets(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseOctet(s string, set *octetSet) error {
	if s == "*" {
		set.add(0, 255)
		return nil
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok || inner == "" {
			return errors.New("unbalanced or empty [ ]")
		}
		for _, item := range strings.FieldsFunc(inner, func(r rune) bool { return r == ',' || r == ';' }) {
			lo, hi, ok := strings.Cut(item, "..")
			if !ok {
				lo, hi, ok = strings.Cut(item, "-")
			}
			if !ok {
				hi = lo
			}
			a, err1 := octet(lo)
			b, err2 := octet(hi)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("%q is not a number or range from 0 to 255", item)
			}
			if a > b {
				return fmt.Errorf("range %q runs backwards", item)
			}
			set.add(a, b)
		}
		if *set == (octetSet{}) {
			return errors.New("empty [ ]")
		}
		return nil
	}
	v, err := octet(s)
	if err != nil {
		return fmt.Errorf("octet %q is not a number from 0 to 255, *, or [range]", s)
	}
	set.add(v, v)
	return nil
}

func octet(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 3 {
		return 0, errors.New("bad octet")
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 255 || s[0] == '+' || s[0] == '-' {
		return 0, errors.New("bad octet")
	}
	return v, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Match reports whether answer counts as a listing.
func (c Codes) Match(answer netip.Addr) bool {
	answer = answer.Unmap()
	if !answer.Is4() {
		return false
	}
	a := answer.As4()
	if len(c.pats) == 0 {
		// sendmail enhdnsbl without return values: "127.0.0.".
		return a[0] == 127 && a[1] == 0 && a[2] == 0
	}
	for _, p := range c.pats {
		if p.match(a) {
			return true
		}
	}
	return false
}

func (p pattern) match(a [4]byte) bool {
	if p.isMask {
		// Bit masks are for 127.0.0.0/8 answers (SURBL style).
		if a[0] != 127 {
			return false
		}
		for i := range a {
			if a[i]&p.mask[i] != 0 {
				return true
			}
		}
		return false
	}
	for i := range a {
		if !p.octets[i].has(a[i]) {
			return false
		}
	}
	return true
}

// String returns the specs as given, for logs and explanations.
func (c Codes) String() string {
	if len(c.pats) == 0 {
		return "127.0.0."
	}
	s := make([]string, len(c.pats))
	for i, p := range c.pats {
		s[i] = p.spec
	}
	return strings.Join(s, ",")
}
