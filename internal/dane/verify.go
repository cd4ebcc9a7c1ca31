package dane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// The errors of Verify wrap one of these, to tell which check failed.
var (
	ErrNoCertificate = errors.New("DANE: the server presented no certificate")
	ErrNoRecords     = errors.New("DANE: no usable TLSA records to verify with")
	ErrNoMatch       = errors.New("DANE: no TLSA record matches the server's certificates")
	ErrChain         = errors.New("DANE-TA: the server's certificate does not chain to the trust anchor")
	ErrName          = errors.New("DANE-TA: the server's certificate is not for the expected names")
)

// Verify checks the certificates a server presented (chain: its
// certificate first, then the others as sent, as in
// tls.ConnectionState.PeerCertificates) against TLSA records; records
// that Check finds unusable are ignored. It succeeds when one record is
// satisfied (RFC 7671 5):
//
//   - DANE-EE(3): the server's certificate matches the record. Nothing
//     else is checked: not its names, not its dates (RFC 7672 3.1.1).
//   - DANE-TA(2): a certificate of the chain matches the record (or the
//     record holds the whole trust anchor: Cert or SPKI with Full), the
//     server's certificate chains up to that trust anchor, taken as the
//     only root, with every certificate of the path in its validity
//     period at now, the trust anchor included, and one of names (see
//     Decision.Names) matches a name of the server's certificate (RFC
//     7672 3.2.2).
//
// The error says which check failed, wrapping ErrNoCertificate,
// ErrNoRecords, ErrNoMatch, ErrChain or ErrName.
func Verify(chain []*x509.Certificate, records []Record, names []string, now time.Time) error {
	if len(chain) == 0 || chain[0] == nil {
		return ErrNoCertificate
	}
	leaf := chain[0]
	var ee, ta []Record
	for _, r := range records {
		switch {
		case r.Check() != nil:
		case r.Usage == DANEEE:
			ee = append(ee, r)
		case r.Usage == DANETA:
			ta = append(ta, r)
		}
	}
	if len(ee)+len(ta) == 0 {
		return ErrNoRecords
	}
	for _, r := range ee {
		if r.Matches(leaf) {
			return nil
		}
	}
	eeMiss := ""
	if len(ee) > 0 {
		sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
		eeMiss = fmt.Sprintf("the certificate of %s (3 1 1 %x) matches none of the %d DANE-EE records",
			describe(leaf), sum, len(ee))
	}
	if len(ta) == 0 {
		return fmt.Errorf("%w: %s", ErrNoMatch, eeMiss)
	}
	err := verifyTA(chain, ta, names, now)
	if err != nil && eeMiss != "" {
		return fmt.Errorf("%w; and %s", err, eeMiss)
	}
	return err
}

// verifyTA is the DANE-TA(2) check of Verify.
func verifyTA(chain []*x509.Certificate, ta []Record, names []string, now time.Time) error {
	anchors, err := trustAnchors(chain, ta)
	if err != nil {
		return err
	}
	if len(anchors) == 0 {
		return fmt.Errorf("%w: none of the %d certificates presented matches the %d DANE-TA records",
			ErrNoMatch, len(chain), len(ta))
	}
	leaf := chain[0]
	var chainErr error
	for _, a := range anchors {
		if chainErr = chainsTo(chain, a, now); chainErr == nil {
			break
		}
	}
	if chainErr != nil {
		return chainErr
	}
	if _, ok := matchName(leaf, names); !ok {
		return fmt.Errorf("%w: it is for %s, want one of %s", ErrName, quoteList(certNames(leaf)), quoteList(names))
	}
	return nil
}

// trustAnchors returns the trust anchors the DANE-TA records designate:
// each certificate of the chain that one matches, and the anchors a
// Full record holds itself: a certificate, or a bare public key (then a
// stand-in certificates for it, see keyAnchors).
func trustAnchors(chain []*x509.Certificate, ta []Record) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, r := range ta {
		found := false
		for _, c := range chain {
			if r.Matches(c) {
				out = append(out, c)
				found = true
			}
		}
		if found || r.MatchingType != MatchFull {
			continue
		}
		if r.Selector == SelectorCert {
			c, err := x509.ParseCertificate(r.Data)
			if err != nil {
				continue // Check has seen to it; not reached
			}
			out = append(out, c)
			continue
		}
		stand, err := keyAnchors(r.Data, chain)
		if err != nil {
			return nil, err
		}
		out = append(out, stand...)
	}
	return out, nil
}

// chainsTo verifies that the server's certificate chains to anchor,
// with the other certificates presented as intermediates, at now.
func chainsTo(chain []*x509.Certificate, anchor *x509.Certificate, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(anchor)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		if c != nil {
			inter.AddCert(c)
		}
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		// The domain's own trust anchor says what it issues for; no
		// extended key usage is required (as Postfix and OpenSSL's
		// DANE code do not require one).
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrChain, describe(anchor), err)
	}
	return nil
}

// keyAnchors makes stand-in CA certificates for a DANE-TA trust anchor
// published as a bare public key (2 1 0), which the server need not
// send (RFC 7672 3.1.2): certificates with that key, one named as the
// issuer of each certificate presented, valid at all times (a bare key
// has no dates), signed by a throwaway key (a root's own signature is
// never checked). None when the key is of a kind crypto/x509 cannot
// use.
func keyAnchors(spki []byte, chain []*x509.Certificate) ([]*x509.Certificate, error) {
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, nil
	}
	throwaway, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("DANE-TA: stand-in for a bare trust anchor key: %w", err)
	}
	var out []*x509.Certificate
	seen := map[string]bool{}
	for _, c := range chain {
		if c == nil || seen[string(c.RawIssuer)] {
			continue
		}
		seen[string(c.RawIssuer)] = true
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			RawSubject:            c.RawIssuer,
			SubjectKeyId:          c.AuthorityKeyId,
			NotBefore:             time.Unix(0, 0),
			NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, throwaway)
		if err != nil {
			return nil, nil // a key crypto/x509 parses but cannot put in a certificate
		}
		a, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("DANE-TA: stand-in for a bare trust anchor key: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// describe names a certificate in messages by its subject.
func describe(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return fmt.Sprintf("%q", s)
	}
	return "(no subject)"
}

// quoteList is names quoted and joined, "none" for none.
func quoteList(names []string) string {
	if len(names) == 0 {
		return "no names"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
