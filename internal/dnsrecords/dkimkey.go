package dnsrecords

import (
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"postern/internal/dkim"
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
// RSA or Ed25519, or PKCS#1 RSA), as the signer reads it.
func PublicKeyFromPEM(b []byte) (crypto.PublicKey, error) {
	k, err := dkim.ParseKey(b)
	if err != nil {
		return nil, err
	}
	return k.Public(), nil
}

// DKIMRecord renders the key record for a public key: RSA as the
// DER SubjectPublicKeyInfo (RFC 6376 3.6.1), Ed25519 as the raw 32-byte
// key (RFC 8463 4).
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	return dkim.PublicKeyRecord(pub)
}
