package smtp

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// RFC 1035 2.3.4: labels are at most 63 octets, names at most 255 octets on
// the wire, which is 253 characters in text form without the trailing dot.
const (
	maxLabelLen  = 63
	maxDomainLen = 253
)

// NormalizeDomain returns the canonical form of a domain name used for every
// comparison: one trailing dot stripped, U-labels converted to A-labels with
// the IDNA lookup profile, lower case, LDH labels of 1 to 63 characters and
// at most 253 characters in all. It does not accept address literals.
func NormalizeDomain(s string) (string, error) {
	return normalize(s, checkLabel)
}

// NormalizeName is NormalizeDomain for names as they stand in DNS data and
// in sendmail's maps: labels may also hold '_' and start or end with '-'
// (host names in the wild carry both, and a map key must still match
// them). The A-label, length and top-level rules are the same.
func NormalizeName(s string) (string, error) {
	return normalize(s, checkNameLabel)
}

func normalize(s string, check func(string) error) (string, error) {
	// RFC 1034 3.1: a trailing dot marks an absolute name; it names the same domain.
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", errors.New("empty domain")
	}
	ascii := isASCII(s)
	if !ascii && !utf8.ValidString(s) {
		return "", errors.New("domain is not valid UTF-8")
	}
	if !ascii {
		// RFC 5890 / UTS 46: U-labels are compared in their A-label form.
		a, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return "", fmt.Errorf("domain %q: %w", s, err)
		}
		s = a
	} else {
		s = strings.ToLower(s)
	}
	if len(s) > maxDomainLen {
		return "", fmt.Errorf("domain longer than %d characters", maxDomainLen)
	}
	var l string
	for rest, more := s, true; more; {
		// One label at a time, without a slice of them: map keys come by the million.
		l, rest, more = strings.Cut(rest, ".")
		if err := check(l); err != nil {
			return "", fmt.Errorf("domain %q: %w", s, err)
		}
		if ascii && strings.HasPrefix(l, "xn--") {
			// RFC 5891 5.4: an A-label must decode to a valid U-label.
			if _, err := idna.Lookup.ToUnicode(l); err != nil {
				return "", fmt.Errorf("domain %q: invalid A-label %q: %w", s, l, err)
			}
		}
	}
	// RFC 3696 2: a top-level domain is never all-numeric; "1.2.3.4" is an
	// address, which SMTP writes as the literal "[1.2.3.4]".
	if allDigits(l) {
		return "", fmt.Errorf("domain %q: all-numeric top-level label (an address is written [192.0.2.1])", s)
	}
	return s, nil
}

// checkLabel enforces the LDH rule (RFC 1035 2.3.1, RFC 1123 2.1).
func checkLabel(l string) error {
	if err := checkNameLabel(l); err != nil {
		return err
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	if strings.IndexByte(l, '_') >= 0 {
		return fmt.Errorf("label %q: character '_' not allowed", l)
	}
	return nil
}

// checkNameLabel allows letters, digits, '-' and '_' (RFC 2181 11: DNS
// itself puts no rule on the octets; these are what names carry).
func checkNameLabel(l string) error {
	if l == "" {
		return errors.New("empty label")
	}
	if len(l) > maxLabelLen {
		return fmt.Errorf("label longer than %d characters", maxLabelLen)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("label %q: character %q not allowed", l, c)
		}
	}
	return nil
}

// InDomain reports whether domain is parent or a subdomain of it, matching
// whole labels only: "evil-example.com" is not in "example.com". Both are
// expected in normalised form; ASCII case and one trailing dot are
// tolerated anyway.
func InDomain(domain, parent string) bool {
	domain = strings.TrimSuffix(domain, ".")
	parent = strings.TrimSuffix(parent, ".")
	if parent == "" || domain == "" {
		return false
	}
	if strings.EqualFold(domain, parent) {
		return true
	}
	if len(domain) <= len(parent)+1 {
		return false
	}
	i := len(domain) - len(parent)
	return domain[i-1] == '.' && strings.EqualFold(domain[i:], parent)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
