package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeyRecord is a parsed DKIM key record (RFC 6376 3.6.1; Ed25519 keys
// RFC 8463 4.2).
type KeyRecord struct {
	Version string            // v=, "" when absent
	KeyType string            // k= as published, "" when absent (rsa)
	Algo    string            // AlgoRSA or AlgoEd25519, once the key is read
	RSA     *rsa.PublicKey    // the key when Algo is AlgoRSA
	Ed25519 ed25519.PublicKey // the key when Algo is AlgoEd25519
	Bits    int               // size of an RSA key
	Hashes  []string          // h=; nil means any
	Email   bool              // s= includes "email" or "*", or is absent
	Testing bool              // t=y: the domain is testing DKIM
	Strict  bool              // t=s: i= must be in d= exactly
}

// What makes a key record unusable, as KeyRecordError.Kind. The texts
// are the verifier's words for the log.
var (
	ErrKeyTagList    = errors.New("key record error")                          // not a valid tag-list (RFC 6376 3.2)
	ErrKeyVersion    = errors.New("incompatible public key version")           // v= is not DKIM1
	ErrKeyVersionPos = errors.New("key record: v= is not the first tag")       // RFC 6376 3.6.1
	ErrKeyNoData     = errors.New("key syntax error: missing public key data") // no p=
	ErrKeyRevoked    = errors.New("key revoked")                               // empty p=
	ErrKeyBase64     = errors.New("key syntax error: p= is not base64")
	ErrKeyRSA        = errors.New("key syntax error: p= is not an RSA public key")
	ErrKeyNotRSA     = errors.New("key syntax error: not an RSA public key") // p= holds another kind of key
	ErrKeyEd25519    = errors.New("invalid Ed25519 public key size")
	ErrKeyAlgorithm  = errors.New("unsupported key algorithm") // k= is neither rsa nor ed25519
	// ErrKeyTooShort: an RSA key under 1024 bits, which RFC 8301 3.2
	// forbids verifiers to accept. ParseKeyRecord returns the record too.
	ErrKeyTooShort = errors.New("key is too short")
)

// KeyRecordError is why a key record cannot be used.
type KeyRecordError struct {
	Kind  error // one of the ErrKey values
	Cause error // the decoder's error, or the detail; may be nil
}

func (e *KeyRecordError) Error() string {
	if e.Cause == nil {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Cause.Error()
}

// Unwrap gives Kind and Cause to errors.Is and errors.As.
func (e *KeyRecordError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

func keyErr(kind, cause error) *KeyRecordError { return &KeyRecordError{Kind: kind, Cause: cause} }

// ParseKeyRecord parses a key record: one TXT record's text, its strings
// joined (RFC 6376 3.6.2.2). The error is a *KeyRecordError. The record
// is returned with what could be read, also on error (nil only when the
// tag-list itself is invalid).
func ParseKeyRecord(txt string) (*KeyRecord, error) {
	tags, err := parseTagList([]byte(txt), nil)
	if err != nil {
		return nil, keyErr(ErrKeyTagList, err)
	}
	rec := &KeyRecord{Email: true}
	get := func(name string) (string, bool) {
		t, ok := lookupTag(tags, name)
		return noFWS(t.value), ok
	}
	rec.Version, _ = get("v")
	if k, ok := lookupTag(tags, "k"); ok {
		rec.KeyType = string(k.value)
	}
	if v, ok := lookupTag(tags, "v"); ok {
		// RFC 6376 3.6.1: v= is DKIM1, and when present the first tag.
		if string(v.value) != "DKIM1" {
			return rec, keyErr(ErrKeyVersion, nil)
		}
		if string(tags[0].name) != "v" {
			return rec, keyErr(ErrKeyVersionPos, nil)
		}
	}
	p, ok := lookupTag(tags, "p")
	if !ok {
		return rec, keyErr(ErrKeyNoData, nil)
	}
	if len(p.value) == 0 {
		// RFC 6376 3.6.1: an empty p= means the key was revoked.
		return rec, keyErr(ErrKeyRevoked, nil)
	}
	raw, err := base64.StdEncoding.DecodeString(noFWS(p.value))
	if err != nil {
		return rec, keyErr(ErrKeyBase64, err)
	}
	rec.readFlags(tags)
	if err := rec.readKey(raw); err != nil {
		return rec, err
	}
	return rec, nil
}

// readKey reads p= as the key type k= names.
func (rec *KeyRecord) readKey(raw []byte) error {
	switch rec.KeyType {
	case "rsa", "":
		// RFC 6376 3.6.1 says RSAPublicKey in one place and
		// SubjectPublicKeyInfo in another; erratum 3017 accepts both.
		pub, err := x509.ParsePKIXPublicKey(raw)
		if err != nil {
			rp, err2 := x509.ParsePKCS1PublicKey(raw)
			if err2 != nil {
				return keyErr(ErrKeyRSA, err)
			}
			pub = rp
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return keyErr(ErrKeyNotRSA, nil)
		}
		rec.Algo, rec.RSA, rec.Bits = AlgoRSA, rk, rk.N.BitLen()
		if rec.Bits < 1024 {
			// RFC 8301 3.2: keys under 1024 bits must not be accepted.
			return keyErr(ErrKeyTooShort, fmt.Errorf("want 1024 bits, has %d bits", rec.Bits))
		}
	case "ed25519":
		// RFC 8463 4.2: the raw 32-octet public key.
		if len(raw) != ed25519.PublicKeySize {
			return keyErr(ErrKeyEd25519, fmt.Errorf("%d bytes", len(raw)))
		}
		rec.Algo, rec.Ed25519 = AlgoEd25519, ed25519.PublicKey(raw)
	default:
		return keyErr(ErrKeyAlgorithm, nil)
	}
	return nil
}

// readFlags reads h=, s= and t= (RFC 6376 3.6.1).
func (rec *KeyRecord) readFlags(tags []tag) {
	if h, ok := lookupTag(tags, "h"); ok {
		rec.Hashes = splitList(h.value)
	}
	if s, ok := lookupTag(tags, "s"); ok {
		svc := splitList(s.value)
		rec.Email = listHas(svc, "email") || listHas(svc, "*")
	}
	if t, ok := lookupTag(tags, "t"); ok {
		flags := splitList(t.value)
		rec.Testing = listHas(flags, "y")
		rec.Strict = listHas(flags, "s")
	}
}

// RecordMatches checks that a selector's published TXT record (as
// returned by a resolver, one string per record) publishes the public
// half of key: exactly one record, usable as ParseKeyRecord reads it, of
// the key's type (rsa when k= is absent, RFC 6376 3.6.1) and holding the
// same public key in p=.
func RecordMatches(txts []string, key crypto.Signer) error {
	if len(txts) == 0 {
		return errors.New("no TXT record")
	}
	if len(txts) > 1 {
		// RFC 6376 3.6.2.2: several records for one selector give
		// undefined results.
		return fmt.Errorf("%d TXT records, want one", len(txts))
	}
	return MatchKeyRecord(txts[0], key.Public())
}

// MatchKeyRecord checks that one key record publishes pub: usable as
// ParseKeyRecord reads it (an empty p= is ErrKeyRevoked), of pub's type
// (rsa when k= is absent, RFC 6376 3.6.1) and holding pub in p=.
func MatchKeyRecord(txt string, pub crypto.PublicKey) error {
	rec, err := ParseKeyRecord(txt)
	if err != nil {
		return err
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if rec.Algo != AlgoRSA {
			return fmt.Errorf("k=%s, but the key is %s", rec.Algo, AlgoRSA)
		}
		if !pub.Equal(rec.RSA) {
			return errors.New("p= is a different key")
		}
	case ed25519.PublicKey:
		if rec.Algo != AlgoEd25519 {
			return fmt.Errorf("k=%s, but the key is %s", rec.Algo, AlgoEd25519)
		}
		if !pub.Equal(rec.Ed25519) {
			return errors.New("p= is a different key")
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}
