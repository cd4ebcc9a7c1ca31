package spf

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Term is one directive or modifier of an SPF record (RFC 7208 4.6.1).
type Term struct {
	Qualifier byte   // '+', '-', '~' or '?' for a mechanism; 0 for a modifier
	Name      string // mechanism or modifier name, lower case
	Modifier  bool
	// Arg is what follows the name and its ":" or "=": the domain-spec
	// of include, exists and ptr, the domain-spec and CIDR lengths of a
	// and mx ("example.org/24", "/24//64"), the network of ip4 and ip6,
	// a modifier's value; "" when there is none.
	Arg string
	// Domain is the domain-spec alone, for the mechanisms and modifiers
	// that take one; "" when absent (the current domain is used).
	Domain string
}

// lookupTerms are the terms that cost a DNS lookup (RFC 7208 4.6.4).
var lookupTerms = map[string]bool{"include": true, "a": true, "mx": true, "ptr": true, "exists": true}

// NeedsLookup reports whether the term counts against the DNS lookup
// limit: the include, a, mx, ptr and exists mechanisms and the redirect
// modifier (RFC 7208 4.6.4).
func (t Term) NeedsLookup() bool {
	if t.Modifier {
		return t.Name == "redirect"
	}
	return lookupTerms[t.Name]
}

// Record is a parsed SPF record. The library evaluates the mechanisms;
// postern checks the whole record's syntax first, handles the redirect=
// and exp= modifiers for the explanation, and the audit reads the terms.
type Record struct {
	Terms    []Term // every directive and modifier, in order
	Redirect string // domain-spec of redirect=, "" if none
	Exp      string // domain-spec of exp=, "" if none
}

// All returns the qualifier of the "all" mechanism (0 when absent) and
// the redirect target ("" when absent).
func (r *Record) All() (q byte, redirect string) {
	for _, t := range r.Terms {
		if t.Name == "all" && !t.Modifier {
			q = t.Qualifier
		}
	}
	return q, r.Redirect
}

// SyntaxError is why a record does not parse. RFC 7208 4.6: a syntax
// error anywhere in the record makes check_host() return permerror.
type SyntaxError struct {
	Term string // the term at fault; "" when the version is wrong
	Msg  string // what is wrong, naming the mechanism or modifier
}

func (e *SyntaxError) Error() string { return e.Msg }

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
// RFC 7208 12, and the names it holds against RFC 1035; the error is a
// *SyntaxError. RFC 7208 4.6: a syntax error anywhere in the record makes
// check_host() return permerror, even if an earlier mechanism matches.
func ParseRecord(txt string) (*Record, error) {
	if !IsRecord(txt) {
		return nil, &SyntaxError{Msg: "record does not start with v=spf1"}
	}
	rec := &Record{}
	// RFC 7208 4.6.1: terms are separated by one or more spaces (SP only,
	// not other whitespace).
	for _, f := range strings.Split(txt[6:], " ") {
		if f == "" {
			continue
		}
		if err := rec.addTerm(f); err != nil {
			return nil, &SyntaxError{Term: f, Msg: err.Error()}
		}
	}
	return rec, nil
}

// modifierName matches name "=" (RFC 7208 4.6.1: name = ALPHA *( ALPHA /
// DIGIT / "-" / "_" / "." )).
var modifierName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*=`)

// addTerm parses one term and appends it to rec.
func (rec *Record) addTerm(f string) error {
	// RFC 7208 12: every term is made of printable US-ASCII (VCHAR).
	for _, r := range f {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("term %q: character %q not allowed", f, r)
		}
	}
	var t Term
	var err error
	if m := modifierName.FindString(f); m != "" {
		t, err = rec.parseModifier(strings.ToLower(m[:len(m)-1]), f[len(m):])
	} else {
		t, err = parseMechanism(f)
	}
	if err != nil {
		return err
	}
	rec.Terms = append(rec.Terms, t)
	return nil
}

// parseModifier checks a modifier (RFC 7208 6) and records redirect= and
// exp= in rec.
func (rec *Record) parseModifier(name, value string) (Term, error) {
	t := Term{Name: name, Arg: value, Modifier: true}
	var slot *string
	switch name {
	case "redirect":
		slot = &rec.Redirect
	case "exp":
		slot = &rec.Exp
	default:
		// RFC 7208 6: unknown modifiers are ignored, but their value
		// must still be a valid macro-string.
		if err := checkMacroString(value, false); err != nil {
			return t, fmt.Errorf("modifier %s: %w", name, err)
		}
		return t, nil
	}
	if value == "" {
		return t, fmt.Errorf("modifier %s needs a domain", name)
	}
	if err := checkDomainSpec(value, false); err != nil {
		return t, fmt.Errorf("modifier %s: %w", name, err)
	}
	// RFC 7208 6: redirect and exp MUST NOT appear more than once.
	if *slot != "" {
		return t, fmt.Errorf("modifier %s appears twice", name)
	}
	*slot, t.Domain = value, value
	return t, nil
}

// parseMechanism checks a directive: an optional qualifier (RFC 7208
// 4.6.2), the mechanism's name and its argument, checked by the rule of
// that mechanism.
func parseMechanism(f string) (Term, error) {
	t := Term{Qualifier: '+'}
	if strings.IndexByte("+-~?", f[0]) >= 0 {
		t.Qualifier, f = f[0], f[1:]
	}
	name, arg, _ := cutAny(f, ":/")
	t.Name = strings.ToLower(name)
	check, ok := mechanisms[t.Name]
	if !ok {
		return t, fmt.Errorf("unknown mechanism %q", name)
	}
	return t, check(&t, arg)
}

// mechanisms maps each mechanism of RFC 7208 5 to the check of its
// argument (arg keeps its leading ":" or "/"; "" when there is none).
var mechanisms = map[string]func(t *Term, arg string) error{
	"all":     checkAll,
	"include": checkDomainMech,
	"exists":  checkDomainMech,
	"a":       checkAddrMech,
	"mx":      checkAddrMech,
	"ptr":     checkPTR,
	"ip4":     checkIPMech,
	"ip6":     checkIPMech,
}

// checkAll: RFC 7208 5.1, all = "all", without an argument.
func checkAll(t *Term, arg string) error {
	if arg != "" {
		return fmt.Errorf("all takes no argument")
	}
	return nil
}

// checkDomainMech: RFC 7208 5.2 and 5.7, include and exists need
// ":" domain-spec.
func checkDomainMech(t *Term, arg string) error {
	if !strings.HasPrefix(arg, ":") || len(arg) < 2 {
		return fmt.Errorf("%s needs :domain", t.Name)
	}
	t.Arg, t.Domain = arg[1:], arg[1:]
	if err := checkDomainSpec(t.Domain, false); err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	return nil
}

// checkPTR: RFC 7208 5.5, ptr = "ptr" [ ":" domain-spec ], no CIDR.
func checkPTR(t *Term, arg string) error {
	if arg == "" {
		return nil
	}
	if !strings.HasPrefix(arg, ":") || len(arg) < 2 {
		return fmt.Errorf("ptr: bad argument")
	}
	t.Arg, t.Domain = arg[1:], arg[1:]
	if err := checkDomainSpec(t.Domain, false); err != nil {
		return fmt.Errorf("ptr: %w", err)
	}
	return nil
}

// dualCIDR is the dual-cidr-length at the end of an a or mx argument:
// [ "/" ip4-cidr-length ] [ "//" ip6-cidr-length ] (RFC 7208 5.6).
var dualCIDR = regexp.MustCompile(`(/([0-9]+))?(//([0-9]+))?$`)

// checkAddrMech: RFC 7208 5.3 and 5.4, a and mx take an optional
// ":" domain-spec, then an optional dual-cidr-length.
func checkAddrMech(t *Term, arg string) error {
	loc := dualCIDR.FindStringSubmatchIndex(arg)
	spec, cidr := arg[:loc[0]], arg[loc[0]:]
	if err := checkDualCIDR(cidr); err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	t.Arg = strings.TrimPrefix(arg, ":")
	switch {
	case spec == "":
		return nil
	case spec == ":":
		return fmt.Errorf("%s: empty domain", t.Name)
	case spec[0] != ':':
		return fmt.Errorf("%s: bad argument %q", t.Name, arg)
	}
	t.Domain = spec[1:]
	if err := checkDomainSpec(t.Domain, false); err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	return nil
}

// checkIPMech: RFC 7208 5.6, ip4 and ip6 take ":" network
// [ "/" prefix-length ].
func checkIPMech(t *Term, arg string) error {
	if !strings.HasPrefix(arg, ":") {
		return fmt.Errorf("%s needs :network", t.Name)
	}
	t.Arg = arg[1:]
	addr, bits, hasBits := strings.Cut(t.Arg, "/")
	a, err := netip.ParseAddr(addr)
	max := 32
	if t.Name == "ip4" {
		ok := err == nil && a.Is4()
		if !ok {
			return fmt.Errorf("ip4: bad address %q", addr)
		}
	} else {
		// RFC 7208 5.6: ip6-network is an IPv6 address in RFC 4291 text
		// form; an IPv4-mapped form is still written as IPv6.
		max = 128
		if err != nil || !a.Is6() || a.Zone() != "" {
			return fmt.Errorf("ip6: bad address %q", addr)
		}
	}
	if hasBits {
		if err := checkCIDR(bits, max); err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
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

// checkDualCIDR checks the dual-cidr-length that dualCIDR matched.
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
// a number without leading zero up to 32 (128 for IPv6), digits only.
func checkCIDR(s string, max int) error {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return fmt.Errorf("bad prefix length %q", s)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("bad prefix length %q", s)
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > max {
		return fmt.Errorf("bad prefix length %q", s)
	}
	return nil
}
