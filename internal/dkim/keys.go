package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Key algorithms postern signs with.
const (
	AlgoRSA     = "rsa"     // RSA-2048, rsa-sha256 (RFC 6376 3.3, RFC 8301)
	AlgoEd25519 = "ed25519" // ed25519-sha256 (RFC 8463)
)

// rsaSignBits is the size of the RSA keys postern makes. RFC 8301 3.2:
// signers MUST use at least 1024 bits and SHOULD use 2048.
const rsaSignBits = 2048

// minSignBits is the smallest RSA key postern signs with.
const minSignBits = 2048

// maxKeyFileBytes bounds what LoadKey reads.
const maxKeyFileBytes = 64 << 10

// LoadKey reads a private key file: PEM "PRIVATE KEY" (PKCS#8, RSA or
// Ed25519) or "RSA PRIVATE KEY" (PKCS#1), or a bare base64 Ed25519 seed
// (the form dkimpy writes).
func LoadKey(path string) (crypto.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxKeyFileBytes {
		return nil, fmt.Errorf("%s: too large for a key file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseKey parses the contents of a key file (see LoadKey).
func ParseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, errors.New("not a PEM key nor a base64 Ed25519 seed")
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("unsupported key type %T (want RSA or Ed25519)", k)
	}
	return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
}

// KeyAlgo names the algorithm of a key, AlgoRSA or AlgoEd25519.
func KeyAlgo(k crypto.Signer) string {
	switch k.Public().(type) {
	case *rsa.PublicKey:
		return AlgoRSA
	case ed25519.PublicKey:
		return AlgoEd25519
	}
	return ""
}

// GenerateKey makes a new key of the algorithm (AlgoRSA gives RSA-2048)
// and returns it with its PKCS#8 PEM encoding.
func GenerateKey(algo string) (crypto.Signer, []byte, error) {
	var k crypto.Signer
	switch algo {
	case AlgoRSA:
		rk, err := rsa.GenerateKey(rand.Reader, rsaSignBits)
		if err != nil {
			return nil, nil, err
		}
		k = rk
	case AlgoEd25519:
		_, ek, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		k = ek
	default:
		return nil, nil, fmt.Errorf("unknown key algorithm %q (want rsa or ed25519)", algo)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicRecord returns the DNS TXT record value publishing a key
// (RFC 6376 3.6.1): RSA as SubjectPublicKeyInfo, Ed25519 as the raw 32
// bytes (RFC 8463 4.2).
func PublicRecord(k crypto.Signer) (string, error) {
	return PublicKeyRecord(k.Public())
}

// PublicKeyRecord is PublicRecord for a public key.
func PublicKeyRecord(key crypto.PublicKey) (string, error) {
	switch pub := key.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", fmt.Errorf("unsupported key type %T", key)
}

// SplitTXT splits a TXT value into strings of at most 255 bytes, as one
// DNS TXT record holds them (RFC 1035 3.3.14); resolvers join them back
// (RFC 6376 3.6.2.2).
func SplitTXT(v string) []string {
	var parts []string
	for len(v) > 255 {
		parts = append(parts, v[:255])
		v = v[255:]
	}
	return append(parts, v)
}

// RecordName is the DNS name of a key record (RFC 6376 3.6.2.1).
func RecordName(selector, domain string) string {
	return selector + "._domainkey." + strings.TrimSuffix(domain, ".")
}

var (
	// A selector is a sub-domain (RFC 6376 3.1); postern keeps them to
	// one plain label so that they make safe file names.
	selectorRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	domainRE   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// ValidSelector reports whether s can be a selector and a file name.
func ValidSelector(s string) bool { return selectorRE.MatchString(s) }

// ValidDomain reports whether d is a lower-case multi-label DNS name
// usable as a directory name.
func ValidDomain(d string) bool { return len(d) <= 253 && domainRE.MatchString(d) }

// KeyPath is where the key of a selector lives:
// DIR/DOMAIN/SELECTOR.key, DIR being data_dir/dkim.
func KeyPath(dir, domain, selector string) string {
	return filepath.Join(dir, domain, selector+".key")
}

// WriteKey stores a new key for a selector: mode 0600, directories
// 0700, never overwriting an existing file. It returns the key's path.
func WriteKey(dir, domain, selector string, pemBytes []byte) (string, error) {
	if !ValidDomain(domain) {
		return "", fmt.Errorf("invalid domain %q", domain)
	}
	if !ValidSelector(selector) {
		return "", fmt.Errorf("invalid selector %q (letters, digits and '-', one label)", selector)
	}
	ddir := filepath.Join(dir, domain)
	if err := os.MkdirAll(ddir, 0o700); err != nil {
		return "", err
	}
	// MkdirAll leaves existing directories alone; make sure ours are
	// private even when they were made by something else first.
	for _, d := range []string{dir, ddir} {
		if err := os.Chmod(d, 0o700); err != nil {
			return "", err
		}
	}
	path := KeyPath(dir, domain, selector)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("%s exists already; choose a new selector", path)
		}
		return "", err
	}
	if _, err := f.Write(pemBytes); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}
