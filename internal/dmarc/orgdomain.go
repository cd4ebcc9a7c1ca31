package dmarc

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// normalize lower-cases a domain and drops a trailing dot.
func normalize(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// RegistrableDomain returns the public suffix plus one label for domain,
// using the Public Suffix List compiled into golang.org/x/net/publicsuffix,
// or an error when domain is itself a public suffix or malformed.
func RegistrableDomain(domain string) (string, error) {
	d := normalize(domain)
	if d == "" || strings.HasPrefix(d, ".") || strings.Contains(d, "..") {
		return "", errors.New("dmarc: malformed domain")
	}
	ascii := isASCII(d)
	if !ascii {
		// The compiled list holds A-labels; answer in the form asked.
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", fmt.Errorf("dmarc: domain %q: %w", domain, err)
		}
		d = a
	}
	rd, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil || ascii {
		return rd, err
	}
	return idna.Lookup.ToUnicode(rd)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// OrganizationalDomain returns the Organizational Domain of domain.
// RFC 7489 3.2: the public suffix plus one label; when the domain is itself
// a public suffix (or has no registrable part) the domain stands for itself.
func OrganizationalDomain(domain string) string {
	if od, err := RegistrableDomain(domain); err == nil {
		return od
	}
	return normalize(domain)
}

// asciiDomain normalizes a domain to lower-case A-labels, so that
// "Bücher.example" and "xn--bcher-kva.example" compare equal. A name that
// does not convert is returned normalized as it is.
func asciiDomain(d string) string {
	d = normalize(d)
	if isASCII(d) {
		return d
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return d
	}
	return a
}

// Aligned reports whether two domains are in alignment in the given mode.
// RFC 7489 3.1.1/3.1.2: strict requires an exact match, relaxed a common
// Organizational Domain.
func Aligned(mode Alignment, a, b string) bool {
	a, b = asciiDomain(a), asciiDomain(b)
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	if mode == AlignStrict {
		return false
	}
	return OrganizationalDomain(a) == OrganizationalDomain(b)
}
