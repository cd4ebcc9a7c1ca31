package spf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// checkDomainSpec checks domain-spec = macro-string domain-end, where
// domain-end is "." toplabel ["."] or a macro-expand (RFC 7208 7.1).
// A domain-spec without macros must also be a name DNS can ask for.
func checkDomainSpec(s string, exp bool) error {
	if s == "" {
		return fmt.Errorf("bad domain %q", s)
	}
	endsInMacro, err := scanMacroString(s, exp)
	if err != nil {
		return err
	}
	if !strings.Contains(s, "%") {
		// RFC 1035 2.3.4 (and RFC 7208 4.3): no empty label, labels of
		// 63 octets at most, 253 in all.
		d := strings.TrimSuffix(s, ".")
		if d == "" || len(d) > 253 {
			return fmt.Errorf("bad domain %q", s)
		}
		for _, l := range strings.Split(d, ".") {
			if l == "" || len(l) > 63 {
				return fmt.Errorf("bad domain %q", s)
			}
		}
	}
	if endsInMacro {
		return nil
	}
	t := strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(t, '.')
	// RFC 7208 12: domain-end = ( "." toplabel [ "." ] ) / macro-expand.
	if i < 0 {
		return fmt.Errorf("bad domain %q: no top label", s)
	}
	if !validTopLabel(t[i+1:]) {
		return fmt.Errorf("bad domain %q: bad top label %q", s, t[i+1:])
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
			return false, errors.New("dangling % in macro")
		}
		switch s[i+1] {
		case '%', '_', '-':
			i++
			continue
		case '{':
		default:
			return false, fmt.Errorf("bad macro escape %%%c", s[i+1])
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return false, errors.New("unterminated macro")
		}
		body := s[i+2 : i+end]
		if _, err := parseMacro(body, exp); errors.Is(err, errMacroLetter) {
			return false, fmt.Errorf("bad macro %%{%s}", body)
		} else if err != nil {
			return false, fmt.Errorf("bad macro %%{%s}: %w", body, err)
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

// errMacroLetter: the macro has no letter, or one RFC 7208 7.2 does not
// define.
var errMacroLetter = errors.New("unknown macro letter")

// parseMacro parses the inside of "%{...}": macro-letter transformers
// *delimiter.
func parseMacro(s string, exp bool) (macro, error) {
	var m macro
	if s == "" {
		return m, errMacroLetter
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
		return m, fmt.Errorf("%w %q", errMacroLetter, s[0])
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
