package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"strings"
)

// SystemRootsWith is the system's roots and the CA certificates (PEM) of
// file; nil, meaning the system's roots, when file is "".
func SystemRootsWith(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	return pool, nil
}

// LoadClientCAs reads [tls] client_ca_file: the CAs whose client
// certificates the server accepts as verified. "" means none (no client
// certificate is asked for).
func LoadClientCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("tls.client_ca_file %s: no PEM certificate", file)
	}
	return pool, nil
}

// VerifyClient checks the certificate a client presented against roots,
// for client authentication, and returns its issuer and subject as
// sendmail prints them (OneLine). A client that presented none gets an
// error too.
func VerifyClient(cs tls.ConnectionState, roots *x509.CertPool) (issuer, subject string, err error) {
	if len(cs.PeerCertificates) == 0 {
		return "", "", errors.New("no client certificate")
	}
	if roots == nil {
		return "", "", errors.New("no client CAs configured (tls.client_ca_file)")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return "", "", err
	}
	return OneLine(leaf.Issuer), OneLine(leaf.Subject), nil
}

// attrNames are the short names OpenSSL (and so sendmail's
// ${cert_issuer} and ${cert_subject}) gives the usual attributes.
var attrNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.5": "serialNumber", "2.5.4.9": "street", "2.5.4.17": "postalCode",
	"0.9.2342.19200300.100.1.25": "DC", "1.2.840.113549.1.9.1": "emailAddress",
}

// OneLine writes a name as OpenSSL's X509_NAME_oneline does, which is
// the form of sendmail's access map keys: "/C=US/O=Example/CN=Example
// CA", attributes in the certificate's order.
func OneLine(n pkix.Name) string {
	var b strings.Builder
	for _, rdn := range n.ToRDNSequence() {
		for _, atv := range rdn {
			b.WriteByte('/')
			b.WriteString(attrName(atv.Type))
			b.WriteByte('=')
			b.WriteString(fmt.Sprint(atv.Value))
		}
	}
	return b.String()
}

func attrName(oid asn1.ObjectIdentifier) string {
	if s, ok := attrNames[oid.String()]; ok {
		return s
	}
	return oid.String()
}

// CipherBits is the key strength of a cipher suite in bits, as
// sendmail's ${cipher_bits}: 128 for AES-128, 256 for AES-256 and
// ChaCha20; 0 for a suite it does not know.
func CipherBits(suite uint16) int {
	name := tls.CipherSuiteName(suite)
	switch {
	case strings.Contains(name, "AES_128"):
		return 128
	case strings.Contains(name, "AES_256"), strings.Contains(name, "CHACHA20"):
		return 256
	case strings.Contains(name, "3DES"):
		return 112
	}
	return 0
}
