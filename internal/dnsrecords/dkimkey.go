package dnsrecords

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DKIMKey is a signing key found on disk.
type DKIMKey struct {
	Selector string
	Path     string
	Public   crypto.PublicKey
}

// LoadDKIMKeys reads dir/<domain>/*.key (written by 'postern dkim keygen',
// one PEM private key per selector). A missing directory means no keys.
func LoadDKIMKeys(dir, domain string) ([]DKIMKey, error) {
	paths, err := filepath.Glob(filepath.Join(dir, domain, "*.key"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var keys []DKIMKey
	var errs []error
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pub, err := PublicKeyFromPEM(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		keys = append(keys, DKIMKey{Selector: strings.TrimSuffix(filepath.Base(p), ".key"), Path: p, Public: pub})
	}
	return keys, errors.Join(errs...)
}

// PublicKeyFromPEM returns the public half of a PEM private key (PKCS#8
// RSA or Ed25519, or PKCS#1 RSA).
func PublicKeyFromPEM(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	switch blk.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		return k.Public(), nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", k)
		}
		return s.Public(), nil
	}
	return nil, fmt.Errorf("PEM block %q is not a private key", blk.Type)
}

// DKIMRecord renders the key record for a public key: RSA as the
// DER SubjectPublicKeyInfo (RFC 6376 3.6.1), Ed25519 as the raw 32-byte
// key (RFC 8463 4).
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	return "", fmt.Errorf("unsupported public key type %T", pub)
}
