package audit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"postern/internal/dns"
)

// SPFTerm is one directive or modifier of an SPF record (RFC 7208 4.6.1).
type SPFTerm struct {
	Qualifier byte   // '+', '-', '~', '?' for mechanisms; 0 for modifiers
	Name      string // mechanism or modifier name, lower case
	Arg       string // domain-spec, network or modifier value; "" if none
	Modifier  bool
}

// SPFRecord is a parsed "v=spf1" record.
type SPFRecord struct {
	Terms []SPFTerm
}

// mechanisms that take the DNS lookup budget (RFC 7208 4.6.4).
var spfLookupTerms = map[string]bool{"include": true, "a": true, "mx": true, "ptr": true, "exists": true, "redirect": true}

// ParseSPF parses an SPF record strictly, as RFC 7208 4.6 defines it.
func ParseSPF(txt string) (*SPFRecord, error) {
	// RFC 7208 4.5: the record starts with "v=spf1" followed by a space
	// or the end; the version is case-insensitive.
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") || (len(txt) > 6 && txt[6] != ' ') {
		return nil, errors.New("record does not start with v=spf1")
	}
	rec := &SPFRecord{}
	seen := map[string]bool{}
	// RFC 7208 4.6.1: terms are separated by one or more spaces only.
	for _, f := range strings.Split(txt[6:], " ") {
		if f == "" {
			continue
		}
		term, err := parseSPFTerm(f)
		if err != nil {
			return nil, err
		}
		if term.Modifier && (term.Name == "redirect" || term.Name == "exp") {
			// RFC 7208 6: redirect and exp may each appear once.
			if seen[term.Name] {
				return nil, fmt.Errorf("modifier %s appears twice", term.Name)
			}
			seen[term.Name] = true
		}
		rec.Terms = append(rec.Terms, term)
	}
	return rec, nil
}

func parseSPFTerm(f string) (SPFTerm, error) {
	for _, r := range f {
		if r < 0x21 || r > 0x7e {
			return SPFTerm{}, fmt.Errorf("term %q: character %q not allowed", f, r)
		}
	}
	// A modifier is name=value where name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
	if i := strings.IndexByte(f, '='); i > 0 && isSPFName(f[:i]) && !strings.ContainsAny(f[:i], ":/") {
		name := strings.ToLower(f[:i])
		val := f[i+1:]
		if (name == "redirect" || name == "exp") && val == "" {
			return SPFTerm{}, fmt.Errorf("modifier %s needs a domain", name)
		}
		if err := checkMacroString(val); err != nil {
			return SPFTerm{}, fmt.Errorf("modifier %s: %w", name, err)
		}
		return SPFTerm{Name: name, Arg: val, Modifier: true}, nil
	}
	t := SPFTerm{Qualifier: '+'}
	switch f[0] {
	case '+', '-', '~', '?':
		t.Qualifier = f[0]
		f = f[1:]
	}
	name, arg := f, ""
	hasArg := false
	if i := strings.IndexAny(f, ":/"); i >= 0 {
		name, arg = f[:i], f[i:]
		hasArg = true
	}
	t.Name = strings.ToLower(name)
	switch t.Name {
	case "all":
		if hasArg {
			return t, errors.New("all takes no argument")
		}
	case "include", "exists":
		if !strings.HasPrefix(arg, ":") || len(arg) < 2 {
			return t, fmt.Errorf("%s needs :domain", t.Name)
		}
		t.Arg = arg[1:]
		if err := checkDomainSpec(t.Arg); err != nil {
			return t, fmt.Errorf("%s: %w", t.Name, err)
		}
	case "a", "mx":
		dom, cidr := arg, ""
		if i := strings.IndexByte(arg, '/'); i >= 0 {
			dom, cidr = arg[:i], arg[i:]
		}
		if strings.HasPrefix(dom, ":") {
			if len(dom) < 2 {
				return t, fmt.Errorf("%s: empty domain", t.Name)
			}
			if err := checkDomainSpec(dom[1:]); err != nil {
				return t, fmt.Errorf("%s: %w", t.Name, err)
			}
		} else if dom != "" {
			return t, fmt.Errorf("%s: bad argument %q", t.Name, arg)
		}
		if err := checkDualCIDR(cidr); err != nil {
			return t, fmt.Errorf("%s: %w", t.Name, err)
		}
		t.Arg = arg
		if strings.HasPrefix(t.Arg, ":") {
			t.Arg = t.Arg[1:]
		}
	case "ptr":
		if hasArg {
			if !strings.HasPrefix(arg, ":") || len(arg) < 2 {
				return t, errors.New("ptr: bad argument")
			}
			t.Arg = arg[1:]
			if err := checkDomainSpec(t.Arg); err != nil {
				return t, fmt.Errorf("ptr: %w", err)
			}
		}
	case "ip4", "ip6":
		if !strings.HasPrefix(arg, ":") {
			return t, fmt.Errorf("%s needs :network", t.Name)
		}
		t.Arg = arg[1:]
		ipS, lenS, hasLen := strings.Cut(t.Arg, "/")
		ip := net.ParseIP(ipS)
		max := 32
		if t.Name == "ip4" {
			if ip == nil || ip.To4() == nil || strings.Contains(ipS, ":") {
				return t, fmt.Errorf("ip4: bad address %q", ipS)
			}
		} else {
			max = 128
			if ip == nil || !strings.Contains(ipS, ":") {
				return t, fmt.Errorf("ip6: bad address %q", ipS)
			}
		}
		if hasLen {
			n, err := strconv.Atoi(lenS)
			// RFC 7208 5.6: leading zeros are not allowed in the length.
			if err != nil || n < 0 || n > max || (len(lenS) > 1 && lenS[0] == '0') || lenS == "" {
				return t, fmt.Errorf("%s: bad prefix length %q", t.Name, lenS)
			}
		}
	default:
		return t, fmt.Errorf("unknown mechanism %q", name)
	}
	return t, nil
}

func isSPFName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// checkMacroString validates %-escapes (RFC 7208 7.1).
func checkMacroString(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+1 >= len(s) {
			return errors.New("dangling % in macro")
		}
		switch s[i+1] {
		case '%', '_', '-':
			i++
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return errors.New("unterminated macro")
			}
			body := s[i+2 : i+end]
			if body == "" || !strings.ContainsRune("slodiphcrtvSLODIPHCRTV", rune(body[0])) {
				return fmt.Errorf("bad macro %%{%s}", body)
			}
			i += end
		default:
			return fmt.Errorf("bad macro escape %%%c", s[i+1])
		}
	}
	return nil
}

// checkDomainSpec validates a domain-spec: a macro string whose expansion
// ends in a domain (RFC 7208 7.1). Without macros it must be a domain of
// at least two labels... or one; we only reject obvious garbage.
func checkDomainSpec(s string) error {
	if err := checkMacroString(s); err != nil {
		return err
	}
	if strings.Contains(s, "%") {
		return nil
	}
	d := strings.TrimSuffix(s, ".")
	if d == "" || len(d) > 253 {
		return fmt.Errorf("bad domain %q", s)
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("bad domain %q", s)
		}
	}
	return nil
}

func checkDualCIDR(s string) error {
	if s == "" {
		return nil
	}
	// RFC 7208 5.6: dual-cidr-length = [ "/" ip4-len ] [ "//" ip6-len ].
	check := func(v string, max int) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > max || (len(v) > 1 && v[0] == '0') {
			return fmt.Errorf("bad prefix length %q", v)
		}
		return nil
	}
	v4, v6, hasV6 := strings.Cut(s, "//")
	if v4 != "" {
		if !strings.HasPrefix(v4, "/") {
			return fmt.Errorf("bad prefix %q", s)
		}
		if err := check(v4[1:], 32); err != nil {
			return err
		}
	}
	if hasV6 {
		return check(v6, 128)
	}
	return nil
}

// All returns the qualifier of the "all" mechanism (0 when absent) and
// the redirect target ("" when absent).
func (r *SPFRecord) All() (q byte, redirect string) {
	for _, t := range r.Terms {
		if t.Name == "all" && !t.Modifier {
			q = t.Qualifier
		}
		if t.Name == "redirect" && t.Modifier {
			redirect = t.Arg
		}
	}
	return q, redirect
}

// spfLimit is the DNS lookup budget of one evaluation (RFC 7208 4.6.4).
const spfLimit = 10

// spfMaxMX is how many MX names one mx mechanism may look up (RFC 7208
// 4.6.4: more than 10 is a permanent error).
const spfMaxMX = 10

// spfVoidLimit is the number of void lookups receivers allow (RFC 7208
// 4.6.4: more than two is a permanent error).
const spfVoidLimit = 2

// spfCounter walks the record and the records it includes, counting the
// terms that need DNS lookups and the lookups that come back empty. It
// collects notes on what it could not follow, and problems that make the
// record unusable.
type spfCounter struct {
	ctx   context.Context
	res   dns.Resolver
	notes []string // problems worth a warning
	perm  []string // problems that make the record a permanent error
	void  []string // lookups that returned no records: "name TYPE (reason)"
	seen  map[string]bool
	ev    *[]string
}

func (s *spfCounter) count(domain string, depth int) int {
	if depth > spfLimit {
		s.notes = append(s.notes, "includes nest deeper than "+strconv.Itoa(spfLimit))
		return 0
	}
	key := strings.ToLower(strings.TrimSuffix(domain, "."))
	if s.seen[key] {
		s.notes = append(s.notes, "include loop at "+key)
		return 0
	}
	s.seen[key] = true
	defer delete(s.seen, key)
	txt, err := lookupSPF(s.ctx, s.res, domain)
	if err != nil {
		// RFC 7208 4.6.4: a query answered with no records at all
		// (NXDOMAIN or NODATA) is a void lookup.
		if depth > 0 && errors.Is(err, errNoRecords) {
			s.voided(domain, "TXT")
		}
		var de *net.DNSError
		if depth > 0 && !(errors.As(err, &de) && dns.IsTemporary(err)) {
			// RFC 7208 5.2 and 6.1: an include or redirect target
			// without a usable record is a permanent error.
			s.perm = append(s.perm, domain+": "+err.Error()+" (receivers get a permanent error)")
		} else {
			s.notes = append(s.notes, domain+": "+err.Error())
		}
		return 0
	}
	*s.ev = append(*s.ev, domain+". TXT \""+txt+"\"")
	rec, err := ParseSPF(txt)
	if err != nil {
		s.perm = append(s.perm, domain+": "+err.Error()+" (receivers get a permanent error)")
		return 0
	}
	n := 0
	for _, t := range rec.Terms {
		if !spfLookupTerms[t.Name] || (t.Modifier != (t.Name == "redirect")) {
			continue
		}
		n++
		target := spfTarget(t, domain)
		if strings.Contains(target, "%") {
			// Macros expand to the sender's data, known only at a
			// receiver.
			if t.Name == "include" || t.Name == "redirect" {
				s.notes = append(s.notes, "cannot follow "+t.Name+" with macros: "+t.Arg)
			}
			continue
		}
		switch t.Name {
		case "include", "redirect":
			n += s.count(target, depth+1)
		case "a":
			s.lookupAddr(target, "A/AAAA")
		case "exists":
			// RFC 7208 5.7: exists asks for A records only.
			s.lookupAddr(target, "A")
		case "mx":
			s.lookupMX(target)
		case "ptr":
			// The ptr mechanism looks up the connecting client's
			// address, which only exists at a receiver: nothing to
			// ask here.
		}
	}
	return n
}

// spfTarget is the domain a term queries: its argument without the
// CIDR lengths, or the current domain when it has none (RFC 7208 5.3,
// 5.4).
func spfTarget(t SPFTerm, domain string) string {
	arg := t.Arg
	if t.Name == "a" || t.Name == "mx" {
		arg, _, _ = strings.Cut(arg, "/")
	}
	if arg == "" {
		return domain
	}
	return arg
}

// voided records a void lookup.
func (s *spfCounter) voided(name, typ string) {
	s.void = append(s.void, strings.TrimSuffix(name, ".")+" "+typ)
}

// lookupAddr does the address lookup of an a or exists mechanism (only
// A records count when typ is "A").
func (s *spfCounter) lookupAddr(name, typ string) {
	ips, err := s.res.LookupIPAddr(s.ctx, name)
	switch {
	case err != nil && dns.IsNotFound(err):
		s.voided(name, typ)
	case err != nil:
		s.notes = append(s.notes, name+": "+err.Error())
	default:
		n := 0
		for _, ip := range ips {
			if typ != "A" || ip.IP.To4() != nil {
				n++
			}
		}
		if n == 0 {
			s.voided(name, typ)
		}
	}
}

// lookupMX does the lookups of an mx mechanism: the MX records, then
// the addresses of each exchange (RFC 7208 5.4).
func (s *spfCounter) lookupMX(name string) {
	mxs, err := s.res.LookupMX(s.ctx, name)
	if err != nil {
		if dns.IsNotFound(err) {
			s.voided(name, "MX")
		} else {
			s.notes = append(s.notes, name+" MX: "+err.Error())
		}
		return
	}
	if len(mxs) == 0 {
		s.voided(name, "MX")
		return
	}
	// RFC 7208 4.6.4: more than 10 MX names is a permanent error.
	if len(mxs) > spfMaxMX {
		s.perm = append(s.perm, fmt.Sprintf("%s has %d MX records, over the limit of %d for the mx mechanism (receivers get a permanent error)", name, len(mxs), spfMaxMX))
		return
	}
	for _, mx := range mxs {
		// A null MX (RFC 7505) names no host to look up.
		if h := strings.TrimSuffix(mx.Host, "."); h != "" {
			s.lookupAddr(h, "A/AAAA")
		}
	}
}

// lookupSPF returns the one SPF record of domain (RFC 7208 4.5: zero is
// "none", more than one is a permanent error).
func lookupSPF(ctx context.Context, res dns.Resolver, domain string) (string, error) {
	txts, err := res.LookupTXT(ctx, domain)
	if err != nil {
		if dns.IsNotFound(err) {
			return "", fmt.Errorf("%w: %w", errNoSPF, errNoRecords)
		}
		return "", err
	}
	var found []string
	for _, t := range txts {
		if len(t) >= 6 && strings.EqualFold(t[:6], "v=spf1") && (len(t) == 6 || t[6] == ' ') {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", errNoSPF
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%d SPF records (only one is allowed)", len(found))
}

var errNoSPF = errors.New("no SPF record")

// errNoRecords marks a lookup that found no records at all (NXDOMAIN or
// NODATA), a void lookup in RFC 7208 4.6.4.
var errNoRecords = errors.New("no TXT records")
