package dane

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"strings"
)

// Matches reports whether cert matches r's selector and matching type:
// the selected part of cert, or its digest, is r's data. The usage is
// not looked at; a record that Check finds unusable matches nothing.
func (r Record) Matches(cert *x509.Certificate) bool {
	if cert == nil || r.Check() != nil {
		return false
	}
	var b []byte
	switch r.Selector {
	case SelectorCert:
		b = cert.Raw
	case SelectorSPKI:
		b = cert.RawSubjectPublicKeyInfo
	}
	switch r.MatchingType {
	case MatchSHA256:
		sum := sha256.Sum256(b)
		return bytes.Equal(sum[:], r.Data)
	case MatchSHA512:
		sum := sha512.Sum512(b)
		return bytes.Equal(sum[:], r.Data)
	}
	return bytes.Equal(b, r.Data)
}

// normalName is a DNS name as names are compared: lower case, without
// the final dot.
func normalName(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

// certNames returns the DNS names cert is for (RFC 7672 3.2.3): its
// subjectAltName DNS names or, when it has none, the common name of its
// subject (a "CN-ID", as RFC 6125 6.4.4 allows for older certificates).
func certNames(cert *x509.Certificate) []string {
	if len(cert.DNSNames) > 0 {
		return cert.DNSNames
	}
	if cert.Subject.CommonName != "" {
		return []string{cert.Subject.CommonName}
	}
	return nil
}

// nameMatches reports whether a name of a certificate matches the
// reference name ref. A wildcard is accepted only as the whole leftmost
// label, and stands for exactly one label (RFC 7672 3.2.3, RFC 6125
// 6.4.3): "*.example.org" matches "mx.example.org", not "example.org"
// nor "a.mx.example.org".
func nameMatches(pattern, ref string) bool {
	pattern, ref = normalName(pattern), normalName(ref)
	if pattern == "" || ref == "" {
		return false
	}
	rest, wild := strings.CutPrefix(pattern, "*.")
	if !wild {
		return pattern == ref && !strings.Contains(pattern, "*")
	}
	if rest == "" || strings.Contains(rest, "*") {
		return false
	}
	label, parent, ok := strings.Cut(ref, ".")
	return ok && label != "" && parent == rest
}

// matchName returns the first of names that one of cert's names
// matches, and whether there is one.
func matchName(cert *x509.Certificate, names []string) (string, bool) {
	for _, ref := range names {
		for _, n := range certNames(cert) {
			if nameMatches(n, ref) {
				return ref, true
			}
		}
	}
	return "", false
}
