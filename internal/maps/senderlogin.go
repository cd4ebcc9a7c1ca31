package maps

import (
	"fmt"
	"io"
	"strings"
)

// SenderLogin is a parsed sender-login map (Postfix's
// smtpd_sender_login_maps as a sendmail-style text file): which logins
// may use which sender addresses. Keys are "user@domain" or "@domain";
// the value lists logins, separated by commas or blanks:
//
//	boss@example.com     carol@example.com, dave@example.com
//	@example.com         webmail@example.com
//
// An address's own entry is the whole list of who may use it (an alias
// that delivers it to someone else no longer counts). A domain's entry
// adds the listed logins to every address of the domain.
type SenderLogin struct {
	m map[string]*SenderLoginEntry
}

// SenderLoginEntry is one line of the map.
type SenderLoginEntry struct {
	Key    string   // "user@domain" or "@domain", normalised
	Logins []string // lower case
	Source Source
}

func (e *SenderLoginEntry) definedAt() int { return e.Source.Line }

// Rule describes the entry for explanations.
func (e *SenderLoginEntry) Rule() string {
	return fmt.Sprintf("%s: %s %s", e.Source.Human(), e.Key, strings.Join(e.Logins, ", "))
}

// Has reports whether login is listed.
func (e *SenderLoginEntry) Has(login string) bool {
	for _, l := range e.Logins {
		if l == login {
			return true
		}
	}
	return false
}

// Len is the number of entries.
func (s *SenderLogin) Len() int {
	if s == nil {
		return 0
	}
	return len(s.m)
}

// ParseSenderLogin reads a sender-login map.
func ParseSenderLogin(name string, r io.Reader) (*SenderLogin, error) {
	m, err := parseKV(name, r, senderLoginKey, func(nk, val string, src Source) (*SenderLoginEntry, error) {
		e := &SenderLoginEntry{Key: nk, Source: src}
		for _, w := range strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if strings.ContainsAny(w, "<>\"()") || strings.HasPrefix(w, "@") || strings.HasSuffix(w, "@") {
				return nil, fmt.Errorf("login %q: want a login name such as alice@example.com", w)
			}
			e.Logins = append(e.Logins, strings.ToLower(w))
		}
		if len(e.Logins) == 0 {
			return nil, fmt.Errorf("key %q lists no login", nk)
		}
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return &SenderLogin{m: m}, nil
}

// senderLoginKey normalises a key: "user@domain" or "@domain".
func senderLoginKey(key string) (string, error) {
	local, domain, ok := splitAddress(key)
	if !ok || strings.HasPrefix(local, `"`) {
		return "", fmt.Errorf("key %q: want user@domain or @domain", key)
	}
	d, err := normDomainOrLiteral(domain)
	if err != nil {
		return "", fmt.Errorf("key %q: %v", key, err)
	}
	return strings.ToLower(local) + "@" + d, nil
}

// Address returns the entry for exactly this address, if any.
func (s *SenderLogin) Address(addr string) (*SenderLoginEntry, bool) {
	local, domain, ok := normAddress(addr)
	if s == nil || !ok || local == "" {
		return nil, false
	}
	e, found := s.m[local+"@"+domain]
	return e, found
}

// Domain returns the entry for the address's domain, if any.
func (s *SenderLogin) Domain(addr string) (*SenderLoginEntry, bool) {
	_, domain, ok := normAddress(addr)
	if s == nil || !ok {
		return nil, false
	}
	e, found := s.m["@"+domain]
	return e, found
}
