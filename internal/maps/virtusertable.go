package maps

import (
	"fmt"
	"io"
	"strings"
)

// VirtKind says what a virtusertable lookup gave.
type VirtKind int

const (
	VirtAddress VirtKind = iota // forward to Address (user@domain)
	VirtLocal                   // deliver to the local user Address (no '@')
	VirtError                   // refuse with Code, Enhanced and Text
)

// VirtResult is the answer of a virtusertable lookup.
type VirtResult struct {
	Kind     VirtKind
	Address  string // VirtAddress and VirtLocal, after %1 %2 %3 substitution
	Code     int    // VirtError
	Enhanced string // VirtError
	Text     string // VirtError
	Key      string // the key that matched, e.g. "@example.com"
	Value    string // the value as written
	Source   Source
}

// Rule describes the match for explanations.
func (r VirtResult) Rule() string {
	return fmt.Sprintf("%s: %s %s", r.Source.Human(), r.Key, r.Value)
}

type virtEntry struct {
	value  string
	result VirtResult // Kind and, for errors, the reply
}

// Virtusertable is a parsed virtusertable: incoming address rewriting.
type Virtusertable struct {
	m map[string]*virtEntry
}

// Len is the number of entries.
func (v *Virtusertable) Len() int {
	if v == nil {
		return 0
	}
	return len(v.m)
}

// ParseVirtusertable reads a virtusertable: "key value" per line. Keys are
// user@domain, @domain (catch-all), and for +detail addresses
// user+*@domain, user++@domain, +*@domain and ++@domain. Values are an
// address, a local user, or error:D.S.N:### text / error:nouser text.
func ParseVirtusertable(name string, r io.Reader) (*Virtusertable, error) {
	m, err := parseKV(name, r, virtKey, func(nk, val string, src Source) (*virtEntry, error) {
		res, err := parseRedirect(val)
		if err != nil {
			return nil, err
		}
		res.Key, res.Value, res.Source = nk, val, src
		return &virtEntry{value: val, result: res}, nil
	})
	if err != nil {
		return nil, err
	}
	return &Virtusertable{m: m}, nil
}

func (e *virtEntry) definedAt() int { return e.result.Source.Line }

func virtKey(k string) (string, error) {
	local, domain, ok := splitAddress(k)
	if !ok || domain == "" {
		return "", fmt.Errorf("key %q: want user@domain or @domain", k)
	}
	d, err := normDomainOrLiteral(domain)
	if err != nil {
		return "", fmt.Errorf("key %q: %v", k, err)
	}
	return strings.ToLower(local) + "@" + d, nil
}

// parseRedirect reads a value shared by virtusertable and the error form
// of mailertable: an address, a local user, or an error.
func parseRedirect(val string) (VirtResult, error) {
	if len(val) >= 6 && strings.EqualFold(val[:6], "error:") {
		code, enh, text, err := parseMailerError(val[6:])
		if err != nil {
			return VirtResult{}, err
		}
		return VirtResult{Kind: VirtError, Code: code, Enhanced: enh, Text: text}, nil
	}
	if strings.ContainsAny(val, " \t,") {
		return VirtResult{}, fmt.Errorf("value %q: one address only", val)
	}
	if err := checkSubst(val); err != nil {
		return VirtResult{}, err
	}
	if local, domain, ok := splitAddress(val); ok {
		if domain == "" {
			return VirtResult{}, fmt.Errorf("value %q: empty domain", val)
		}
		if !strings.Contains(domain, "%") {
			if _, err := normDomainOrLiteral(domain); err != nil {
				return VirtResult{}, fmt.Errorf("value %q: %v", val, err)
			}
		}
		_ = local
		return VirtResult{Kind: VirtAddress}, nil
	}
	return VirtResult{Kind: VirtLocal}, nil
}

// checkSubst accepts %1, %2, %3 and %% only.
func checkSubst(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+1 >= len(s) || !strings.ContainsRune("123%", rune(s[i+1])) {
			return fmt.Errorf("value %q: only %%1, %%2, %%3 may follow %%", s)
		}
		i++
	}
	return nil
}

// symbolic error names of sendmail's error mailer, with the replies they give.
var errorNames = map[string]struct {
	code int
	enh  string
	text string
}{
	// RFC 3463 3.2: X.1.1 bad destination mailbox address.
	"nouser": {550, "5.1.1", "user unknown"},
	// RFC 3463 3.2: X.1.2 bad destination system address.
	"nohost":      {550, "5.1.2", "host unknown"},
	"unavailable": {550, "5.0.0", "service unavailable"},
	"tempfail":    {451, "4.0.0", "try again later"},
	"dataerr":     {554, "5.6.0", "data format error"},
	"noperm":      {550, "5.7.1", "permission denied"},
	"software":    {554, "5.3.0", "internal software error"},
	"config":      {554, "5.3.5", "configuration error"},
}

// parseMailerError parses what follows "error:": "D.S.N:### text",
// "### text", or a symbolic name ("nouser text").
func parseMailerError(s string) (code int, enh, text string, err error) {
	s = strings.TrimSpace(s)
	word, rest, _ := strings.Cut(s, " ")
	if e, ok := errorNames[strings.ToLower(word)]; ok {
		text = strings.TrimSpace(unquote(rest))
		if text == "" {
			text = e.text
		}
		return e.code, e.enh, text, nil
	}
	code, enh, text, err = parseErrorValue(s)
	if err != nil {
		return 0, "", "", fmt.Errorf("error value: %v (or use nouser, nohost, unavailable, tempfail)", err)
	}
	return code, enh, text, nil
}

// Lookup rewrites an incoming address in sendmail's order:
//
//	user+detail@domain   the full address (%1 = user+detail)
//	user++@domain        when detail is not empty
//	user+*@domain
//	user@domain
//	++@domain            when detail is not empty
//	+*@domain
//	@domain              the catch-all
//
// With +detail, %1 is the user, %2 the detail and %3 "+detail"; without,
// %1 is the user. Whether a domain is virtual at all is the caller's
// decision.
func (v *Virtusertable) Lookup(addr string) (VirtResult, bool) {
	if v == nil || len(v.m) == 0 {
		return VirtResult{}, false
	}
	local, domain, hasAt := normAddress(addr)
	if !hasAt || domain == "" {
		return VirtResult{}, false
	}
	// Keys are case-insensitive; %1 %2 %3 keep the case the sender used.
	orig, _, _ := splitAddress(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(addr), "<"), ">"))
	at := "@" + domain
	if e := v.m[local+at]; e != nil {
		return e.apply(orig, "", ""), true
	}
	_, detail, plus := strings.Cut(local, "+")
	ouser, odetail, _ := strings.Cut(orig, "+")
	user := strings.ToLower(ouser)
	if plus {
		var keys []string
		if detail != "" {
			keys = append(keys, user+"++"+at)
		}
		keys = append(keys, user+"+*"+at, user+at)
		if detail != "" {
			keys = append(keys, "++"+at)
		}
		keys = append(keys, "+*"+at, at)
		for _, k := range keys {
			if e := v.m[k]; e != nil {
				return e.apply(ouser, odetail, "+"+odetail), true
			}
		}
		return VirtResult{}, false
	}
	if e := v.m[at]; e != nil {
		return e.apply(orig, "", ""), true
	}
	return VirtResult{}, false
}

func (e *virtEntry) apply(p1, p2, p3 string) VirtResult {
	r := e.result
	if r.Kind != VirtError {
		r.Address = substitute(e.value, p1, p2, p3)
	}
	return r
}

// substitute replaces %1 %2 %3 and %% in a value.
func substitute(v, p1, p2, p3 string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' || i+1 >= len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case '1':
			b.WriteString(p1)
		case '2':
			b.WriteString(p2)
		case '3':
			b.WriteString(p3)
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}
