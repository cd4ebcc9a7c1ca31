package dane

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// testNow is the time the tests verify at; the certificates are valid
// from a day before to a year after, unless a test says otherwise.
var testNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// issued is a certificate and its key.
type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certSpec says what to put in a test certificate.
type certSpec struct {
	cn        string
	dns       []string
	ca        bool
	notBefore time.Time // zero: a day before testNow
	notAfter  time.Time // zero: a year after testNow
}

// issue makes a certificate for spec, signed by parent (self-signed when
// parent is nil).
func issue(t testing.TB, spec certSpec, parent *issued) *issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.cn},
		DNSNames:              spec.dns,
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  spec.ca,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if spec.ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = testNow.Add(-24 * time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = testNow.Add(365 * 24 * time.Hour)
	}
	signer, signerCert := crypto.Signer(key), tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: cert, key: key}
}

// pki is a root CA, an intermediate CA under it, and a server
// certificate for mx.example.test under the intermediate.
type pki struct {
	root, inter, leaf *issued
}

func newPKI(t testing.TB) pki {
	root := issue(t, certSpec{cn: "Example Root", ca: true}, nil)
	inter := issue(t, certSpec{cn: "Example Intermediate", ca: true}, root)
	leaf := issue(t, certSpec{cn: "mx.example.test", dns: []string{"mx.example.test"}}, inter)
	return pki{root, inter, leaf}
}

// chain is what a server sends: its certificate, the intermediate, and
// the root when withRoot.
func (p pki) chain(withRoot bool) []*x509.Certificate {
	c := []*x509.Certificate{p.leaf.cert, p.inter.cert}
	if withRoot {
		c = append(c, p.root.cert)
	}
	return c
}

// record makes the TLSA record of cert with the given fields.
func record(u Usage, s Selector, m MatchingType, cert *x509.Certificate) Record {
	b := cert.Raw
	if s == SelectorSPKI {
		b = cert.RawSubjectPublicKeyInfo
	}
	switch m {
	case MatchSHA256:
		sum := sha256.Sum256(b)
		b = sum[:]
	case MatchSHA512:
		sum := sha512.Sum512(b)
		b = sum[:]
	}
	return Record{Usage: u, Selector: s, MatchingType: m, Data: append([]byte(nil), b...)}
}

// rdata is r as TLSA RDATA.
func rdata(r Record) []byte {
	return append([]byte{byte(r.Usage), byte(r.Selector), byte(r.MatchingType)}, r.Data...)
}
