package spf

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Record is an SPF record split into the parts postern itself needs: the
// library evaluates mechanisms, postern checks the whole record's syntax
// first and handles the redirect= and exp= modifiers for the explanation.
type Record struct {
	Terms    []string // every directive and modifier, in order
	Redirect string   // domain-spec of redirect=, "" if none
	Exp      string   // domain-spec of exp=, "" if none
}

// IsRecord reports whether a TXT string is an SPF version 1 record.
// RFC 7208 4.5: a record starts with "v=spf1" followed by a space or the
// end of the string; the version tag is case-insensitive (RFC 7208 12).
func IsRecord(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

// ParseRecord checks the syntax of a whole SPF record against the ABNF of
// RFC 7208 12. RFC 7208 4.6: a syntax error anywhere in the record makes
// check_host() return permerror, even if an earlier mechanism matches.
func ParseRecord(txt string) (*Record, error) {
	if !IsRecord(txt) {
		return nil, errors.New("not an SPF record (no v=spf1)")
	}
	rec := &Record{}
	// RFC 7208 4.6.1: terms are separated by one or more spaces (SP only,
	// not other whitespace).
	for _, term := range strings.Split(txt[6:], " ") {
		if term == "" {
			continue
		}
		if err := rec.addTerm(term); err != nil {
			return nil, fmt.Errorf("term %q: %w", term, err)
		}
		rec.Terms = append(rec.Terms, term)
	}
	return rec, nil
}

var (
	modifierName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*=`)
	// dual-cidr-length as the suffix of a/mx: [ "/" ip4 ] [ "//" ip6 ].
	dualCIDR = regexp.MustCompile(`(/([0-9]+))?(//([0-9]+))?$`)
)

func (rec *Record) addTerm(term string) error {
	// Modifiers first: a name followed by "=" (RFC 7208 4.6.1).
	if m := modifierName.FindString(term); m != "" {
		name, value := strings.ToLower(m[:len(m)-1]), term[len(m):]
		switch name {
		case "redirect":
			// RFC 7208 6: redirect and exp MUST NOT appear more than once.
			if rec.Redirect != "" {
				return errors.New("redirect= appears twice")
			}
			if err := checkDomainSpec(value, false); err != nil {
				return err
			}
			rec.Redirect = value
		case "exp":
			if rec.Exp != "" {
				return errors.New("exp= appears twice")
			}
			if err := checkDomainSpec(value, false); err != nil {
				return err
			}
			rec.Exp = value
		default:
			// RFC 7208 6: unknown modifiers are ignored, but their
			// value must still be a valid macro-string.
			if err := checkMacroString(value, false); err != nil {
				return err
			}
		}
		return nil
	}
	if strings.ContainsRune(term, '=') && !strings.ContainsAny(term[:strings.IndexByte(term, '=')], ":/") {
		return errors.New("invalid modifier name")
	}
	// RFC 7208 4.6.2: optional qualifier.
	mech := term
	if strings.ContainsRune("+-~?", rune(mech[0])) {
		mech = mech[1:]
	}
	name, arg, hasArg := cutAny(mech, ":/")
	lname := strings.ToLower(name)
	switch lname {
	case "all":
		if hasArg {
			return errors.New("all takes no argument")
		}
	case "include", "exists":
		if !hasArg || arg[0] != ':' {
			return errors.New(lname + " needs a domain")
		}
		return checkDomainSpec(arg[1:], false)
	case "ptr":
		if !hasArg {
			return nil
		}
		if arg[0] != ':' {
			return errors.New("ptr takes no CIDR length")
		}
		return checkDomainSpec(arg[1:], false)
	case "a", "mx":
		if !hasArg {
			return nil
		}
		loc := dualCIDR.FindStringSubmatchIndex(arg)
		cidr, spec := arg[loc[0]:], arg[:loc[0]]
		if err := checkDualCIDR(cidr); err != nil {
			return err
		}
		if spec == "" {
			return nil
		}
		if spec[0] != ':' {
			return errors.New("bad " + lname + " argument")
		}
		return checkDomainSpec(spec[1:], false)
	case "ip4":
		if !hasArg || arg[0] != ':' {
			return errors.New("ip4 needs an address")
		}
		addr, bits, hasBits := strings.Cut(arg[1:], "/")
		a, err := netip.ParseAddr(addr)
		if err != nil || !a.Is4() {
			return errors.New("bad ip4 address")
		}
		if hasBits {
			return checkCIDR(bits, 32)
		}
	case "ip6":
		if !hasArg || arg[0] != ':' {
			return errors.New("ip6 needs an address")
		}
		addr, bits, hasBits := strings.Cut(arg[1:], "/")
		a, err := netip.ParseAddr(addr)
		// RFC 7208 5.6: ip6-network is an IPv6 address in RFC 4291 text
		// form; an IPv4-mapped form is still written as IPv6.
		if err != nil || !a.Is6() || a.Zone() != "" {
			return errors.New("bad ip6 address")
		}
		if hasBits {
			return checkCIDR(bits, 128)
		}
	default:
		return errors.New("unknown mechanism")
	}
	return nil
}

// cutAny splits s at the first of the separator bytes, keeping the
// separator at the start of the rest.
func cutAny(s, seps string) (before, rest string, found bool) {
	if i := strings.IndexAny(s, seps); i >= 0 {
		return s[:i], s[i:], true
	}
	return s, "", false
}

func checkDualCIDR(s string) error {
	if s == "" {
		return nil
	}
	m := dualCIDR.FindStringSubmatch(s)
	if m[1] != "" {
		if err := checkCIDR(m[2], 32); err != nil {
			return err
		}
	}
	if m[3] != "" {
		if err := checkCIDR(m[4], 128); err != nil {
			return err
		}
	}
	return nil
}

// checkCIDR checks a prefix length. RFC 7208 12: ip4-cidr-length is "0" or
// a number without leading zero up to 32 (128 for IPv6).
func checkCIDR(s string, max int) error {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return fmt.Errorf("bad CIDR length %q", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return fmt.Errorf("bad CIDR length %q", s)
	}
	return nil
}

// checkDomainSpec checks domain-spec = macro-string domain-end, where
// domain-end is "." toplabel ["."] or a macro-expand (RFC 7208 7.1).
func checkDomainSpec(s string, exp bool) error {
	if s == "" {
		return errors.New("empty domain-spec")
	}
	endsInMacro, err := scanMacroString(s, exp)
	if err != nil {
		return err
	}
	if endsInMacro {
		return nil
	}
	t := strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(t, '.')
	if i < 0 {
		return errors.New("domain-spec has no top label")
	}
	if !validTopLabel(t[i+1:]) {
		return fmt.Errorf("bad top label %q", t[i+1:])
	}
	return nil
}

// validTopLabel: toplabel = ( *alphanum ALPHA *alphanum ) /
// ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) (RFC 7208 12).
func validTopLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	alpha := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			alpha = true
		case c >= '0' && c <= '9':
		case c == '-':
			alpha = true // a dash makes the second form, which may be all digits otherwise
		default:
			return false
		}
	}
	return alpha
}

// checkMacroString checks macro-string = *( macro-expand / macro-literal )
// (RFC 7208 7.1). The letters c, r and t are only allowed in exp text.
func checkMacroString(s string, exp bool) error {
	_, err := scanMacroString(s, exp)
	return err
}

// scanMacroString checks a macro-string and reports whether it ends with
// a macro-expand.
func scanMacroString(s string, exp bool) (endsInMacro bool, err error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		endsInMacro = false
		if c != '%' {
			// macro-literal = %x21-24 / %x26-7E; in exp text a space is
			// also allowed (RFC 7208 7.1, explain-string).
			if (c < 0x21 || c > 0x7e) && !(exp && c == ' ') {
				return false, fmt.Errorf("invalid character %q", c)
			}
			continue
		}
		endsInMacro = true
		if i+1 >= len(s) {
			return false, errors.New("lone % at the end")
		}
		switch s[i+1] {
		case '%', '_', '-':
			i++
			continue
		case '{':
		default:
			return false, fmt.Errorf("invalid macro %q", s[i:i+2])
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return false, errors.New("unterminated macro")
		}
		if _, err := parseMacro(s[i+2:i+end], exp); err != nil {
			return false, err
		}
		i += end
	}
	return endsInMacro, nil
}

// macro is one parsed "%{...}" expansion.
type macro struct {
	letter  byte // lower case
	upper   bool // URL-escape the result (RFC 7208 7.3)
	digits  int  // keep this many right-hand parts; 0 means all
	reverse bool
	delims  string // split on these; "" means "."
}

// parseMacro parses the inside of "%{...}": macro-letter transformers
// *delimiter.
func parseMacro(s string, exp bool) (macro, error) {
	var m macro
	if s == "" {
		return m, errors.New("empty macro")
	}
	l := s[0]
	m.upper = l >= 'A' && l <= 'Z'
	if m.upper {
		l += 'a' - 'A'
	}
	switch l {
	case 's', 'l', 'o', 'd', 'i', 'p', 'h', 'v':
	case 'c', 'r', 't':
		// RFC 7208 7.1: c, r and t are only allowed in "exp" text.
		if !exp {
			return m, fmt.Errorf("macro letter %q only allowed in exp", l)
		}
	default:
		return m, fmt.Errorf("unknown macro letter %q", s[0])
	}
	m.letter = l
	rest := s[1:]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j > 0 {
		n, err := strconv.Atoi(rest[:j])
		// RFC 7208 7.3: a transformer of zero is a syntax error; very
		// large ones are taken as "all parts".
		if err != nil && j < 4 || n == 0 && err == nil {
			return m, fmt.Errorf("bad macro digits %q", rest[:j])
		}
		if err != nil || n > 128 {
			n = 128
		}
		m.digits = n
	}
	rest = rest[j:]
	if rest != "" && (rest[0] == 'r' || rest[0] == 'R') {
		m.reverse = true
		rest = rest[1:]
	}
	for k := 0; k < len(rest); k++ {
		if !strings.ContainsRune(".-+,/_=", rune(rest[k])) {
			return m, fmt.Errorf("bad macro delimiter %q", rest[k])
		}
	}
	m.delims = rest
	return m, nil
}
