package smtpclient

import (
	"strconv"
	"strings"
)

// Extensions are the service extensions a server announced in its EHLO
// (or LHLO) reply, keyed by upper-case keyword; the value is the rest of
// the line.
type Extensions map[string]string

// ParseEHLO reads the extensions from the text of a 250 reply to EHLO:
// the first line is the greeting, each further line one extension
// (RFC 5321 4.1.1.1: ehlo-line = ehlo-keyword *( SP ehlo-param )).
func ParseEHLO(text string) Extensions {
	ext := Extensions{}
	lines := strings.Split(text, "\n")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		// Old servers announce "AUTH=LOGIN"; read it like "AUTH LOGIN".
		if kk, vv, ok := strings.Cut(k, "="); ok && strings.EqualFold(kk, "AUTH") {
			k, v = kk, strings.TrimSpace(vv+" "+v)
		}
		if k == "" || len(ext) >= 64 {
			continue
		}
		k = strings.ToUpper(k)
		if old, ok := ext[k]; ok && v != "" && k == "AUTH" {
			v = old + " " + v
		}
		ext[k] = strings.TrimSpace(v)
	}
	return ext
}

// Has reports whether the server announced keyword (upper case).
func (e Extensions) Has(keyword string) bool {
	_, ok := e[keyword]
	return ok
}

// Size is the server's SIZE limit (RFC 1870 4): -1 when it announced no
// SIZE, 0 when it announced SIZE without a limit.
func (e Extensions) Size() int64 {
	v, ok := e["SIZE"]
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// AuthMechanisms lists the SASL mechanisms announced with AUTH, upper case.
func (e Extensions) AuthMechanisms() []string {
	return strings.Fields(strings.ToUpper(e["AUTH"]))
}

// Greeting returns the server's name: the first word of the first line
// of the greeting or EHLO reply.
func Greeting(text string) string {
	first, _, _ := strings.Cut(text, "\n")
	name, _, _ := strings.Cut(strings.TrimSpace(first), " ")
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
