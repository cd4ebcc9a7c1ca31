package submit

import (
	"fmt"
	"net/mail"
	"strings"

	"postern/internal/smtp"
)

// ParseAddressList returns the addresses of an address list as found in
// a To or Cc field or on sendmail's command line ("a@b, Name <c@d>",
// groups, comments). A bare name without a domain ("root") is a user of
// this host and gets "@" + host, as sendmail qualifies it. Every address
// must be usable as an SMTP recipient.
func ParseAddressList(s, host string) ([]string, error) {
	var out []string
	if list, err := mail.ParseAddressList(s); err == nil {
		for _, a := range list {
			out = append(out, a.Address)
		}
	} else {
		// net/mail wants a domain everywhere: take the list apart and
		// qualify bare names.
		for _, piece := range splitTopLevel(s) {
			a, err := parseOne(piece, host)
			if err != nil {
				return nil, err
			}
			if a != "" {
				out = append(out, a)
			}
		}
	}
	for i, a := range out {
		p, err := CheckAddress(a)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// CheckAddress checks that a is usable as an SMTP path and returns it in
// the form sent in RCPT TO.
func CheckAddress(a string) (string, error) {
	p, _, rep := smtp.ParseRcpt("TO:<"+a+">", smtp.ParseOptions{SMTPUTF8: true})
	if rep != nil || p.Domain == "" {
		return "", fmt.Errorf("%q is not a valid address", a)
	}
	return p.String(), nil
}

// parseOne reads one list element: "Name <a@b>", "a@b", or a bare name.
func parseOne(piece, host string) (string, error) {
	piece = strings.TrimSpace(stripComments(piece))
	// A group ("team: a, b;"): its name goes, its members stay.
	if i := topLevelIndex(piece, ':'); i >= 0 && !strings.Contains(piece[:i], "<") {
		piece = strings.TrimSpace(piece[i+1:])
	}
	piece = strings.TrimSpace(strings.TrimSuffix(piece, ";"))
	if piece == "" {
		return "", nil
	}
	if i := strings.LastIndexByte(piece, '<'); i >= 0 {
		j := strings.LastIndexByte(piece, '>')
		if j < i {
			return "", fmt.Errorf("%q: unclosed <", piece)
		}
		piece = strings.TrimSpace(piece[i+1 : j])
	}
	if a, err := mail.ParseAddress("<" + piece + ">"); err == nil {
		return a.Address, nil
	}
	if isBareName(piece) && host != "" {
		return piece + "@" + host, nil
	}
	return "", fmt.Errorf("%q is not a valid address", piece)
}

// isBareName reports whether s is a local part alone (a login name).
func isBareName(s string) bool {
	if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// splitTopLevel splits at commas outside quotes, angle brackets and
// comments.
func splitTopLevel(s string) []string {
	var out []string
	start := 0
	walk(s, func(i int, c byte) {
		if c == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	})
	return append(out, s[start:])
}

// topLevelIndex is the first c outside quotes, brackets and comments.
func topLevelIndex(s string, c byte) int {
	idx := -1
	walk(s, func(i int, b byte) {
		if idx < 0 && b == c {
			idx = i
		}
	})
	return idx
}

// walk calls f for every byte outside quoted strings, angle brackets and
// comments.
func walk(s string, f func(i int, c byte)) {
	quoted, angle, depth := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case depth > 0:
			if c == '\\' {
				i++
			} else if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
		case angle:
			if c == '>' {
				angle = false
			}
		case c == '"':
			quoted = true
		case c == '(':
			depth++
		case c == '<':
			angle = true
		default:
			f(i, c)
		}
	}
}

// stripComments removes (comments) outside quoted strings.
func stripComments(s string) string {
	var b strings.Builder
	quoted, depth := false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case depth > 0:
			if c == '\\' {
				i++
			} else if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
			continue
		case quoted:
			if c == '\\' && i+1 < len(s) {
				b.WriteByte(c)
				i++
				c = s[i]
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '(':
			depth++
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
