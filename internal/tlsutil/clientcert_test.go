package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func TestOneLine(t *testing.T) {
	for _, c := range []struct {
		name pkix.Name
		want string
	}{
		{pkix.Name{Country: []string{"US"}, Organization: []string{"Example Corp"}, CommonName: "Example CA"}, "/C=US/O=Example Corp/CN=Example CA"},
		{pkix.Name{CommonName: "relay.partner.example"}, "/CN=relay.partner.example"},
		{pkix.Name{}, ""},
	} {
		if got := OneLine(c.name); got != c.want {
			t.Errorf("OneLine(%v) = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCipherBits(t *testing.T) {
	for suite, want := range map[uint16]int{
		tls.TLS_AES_128_GCM_SHA256: 128, tls.TLS_AES_256_GCM_SHA384: 256, tls.TLS_CHACHA20_POLY1305_SHA256: 256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 128, 0x0000: 0,
	} {
		if got := CipherBits(suite); got != want {
			t.Errorf("CipherBits(%s) = %d, want %d", tls.CipherSuiteName(suite), got, want)
		}
	}
}

// A client certificate verifies against its CA, for client auth only,
// and names its issuer and subject as sendmail would.
func TestVerifyClient(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"Example Corp"}, CommonName: "Example CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(eku x509.ExtKeyUsage) *x509.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "relay.partner.example"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{eku}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	issuer, subject, err := VerifyClient(tls.ConnectionState{PeerCertificates: []*x509.Certificate{issue(x509.ExtKeyUsageClientAuth)}}, pool)
	if err != nil || issuer != "/O=Example Corp/CN=Example CA" || subject != "/CN=relay.partner.example" {
		t.Errorf("VerifyClient: %q %q %v", issuer, subject, err)
	}
	if _, _, err := VerifyClient(tls.ConnectionState{PeerCertificates: []*x509.Certificate{issue(x509.ExtKeyUsageServerAuth)}}, pool); err == nil {
		t.Error("a server-only certificate verified for a client")
	}
	if _, _, err := VerifyClient(tls.ConnectionState{PeerCertificates: []*x509.Certificate{issue(x509.ExtKeyUsageClientAuth)}}, x509.NewCertPool()); err == nil {
		t.Error("verified without its CA")
	}
	if _, _, err := VerifyClient(tls.ConnectionState{}, pool); err == nil {
		t.Error("no certificate verified")
	}
}
