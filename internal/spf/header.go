package spf

import (
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"postern/internal/smtp"
)

// ReceivedSPF returns the Received-SPF header field (RFC 7208 9.1), with
// the name and without the final CRLF; it is folded (CRLF and a tab)
// before the key-value pairs when it would pass 78 characters, so that no
// line comes near the 998-octet limit. receiver is this host's name.
func (r Result) ReceivedSPF(receiver string) string {
	var b strings.Builder
	b.WriteString("Received-SPF: ")
	b.WriteString(r.Result)
	b.WriteString(" (")
	b.WriteString(commentText(receiver + ": " + r.comment()))
	b.WriteString(")")
	pairs := [...][2]string{
		{"client-ip", r.IP.String()},
		{"envelope-from", r.Sender},
		{"helo", r.Helo},
		{"receiver", receiver},
		{"identity", r.Identity},
	}
	lineLen := b.Len()
	for _, p := range pairs {
		if p[1] == "" {
			continue
		}
		// RFC 7208 9.1: key-value-pair = key [CFWS] "=" ( dot-atom / quoted-string ).
		v := atomOrQuoted(p[1])
		n := len(p[0]) + 1 + len(v) + 1
		// RFC 5322 2.2.3: fold at white space to keep lines short.
		if lineLen+1+n > 78 {
			b.WriteString("\r\n\t")
			lineLen = 1
		} else {
			b.WriteByte(' ')
			lineLen++
		}
		b.WriteString(p[0])
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte(';')
		lineLen += n
	}
	return b.String()
}

// comment is the human-readable reason in the Received-SPF comment.
func (r Result) comment() string {
	who := "domain of " + r.Sender
	switch r.Result {
	case Pass:
		return fmt.Sprintf("%s designates %s as permitted sender", who, r.IP)
	case Fail:
		return fmt.Sprintf("%s does not designate %s as permitted sender", who, r.IP)
	case SoftFail:
		return fmt.Sprintf("transitioning %s does not designate %s as permitted sender", who, r.IP)
	case Neutral:
		return fmt.Sprintf("%s makes no assertion about %s", r.Domain, r.IP)
	case None:
		return fmt.Sprintf("%s does not publish SPF", r.Domain)
	case TempError:
		return fmt.Sprintf("temporary error checking SPF of %s", r.Domain)
	default:
		return fmt.Sprintf("SPF record of %s is not valid", r.Domain)
	}
}

// AuthResult returns the spf= clause for Authentication-Results
// (RFC 8601 2.7.2): smtp.mailfrom for the MAIL FROM identity, smtp.helo
// for the HELO one.
func (r Result) AuthResult() *authres.SPFResult {
	a := &authres.SPFResult{Value: authres.ResultValue(r.Result)}
	if r.Identity == IdentityHelo {
		a.Helo = smtp.Printable(r.Helo)
	} else {
		a.From = smtp.Printable(r.Sender)
	}
	return a
}

// commentText makes s safe inside a header comment: no control
// characters, and parentheses and backslashes quoted (RFC 5322 3.2.2).
func commentText(s string) string {
	s = smtp.Printable(s)
	if !strings.ContainsAny(s, "()\\") {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if c == '(' || c == ')' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// atomOrQuoted writes v as a dot-atom when it is one, else as a
// quoted-string (RFC 5322 3.2.3, 3.2.4).
func atomOrQuoted(v string) string {
	v = smtp.Printable(v)
	if isDotAtom(v) {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range v {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' ||
			strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
