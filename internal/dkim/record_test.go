package dkim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// TestParseKeyRecordErrors checks the kind of each problem, what the
// record holds when it is returned with one, and the verifier's words.
func TestParseKeyRecordErrors(t *testing.T) {
	rk, _, _ := GenerateKey(AlgoRSA)
	ek, _, _ := GenerateKey(AlgoEd25519)
	rrec, _ := PublicRecord(rk)
	erec, _ := PublicRecord(ek)
	rp := rrec[strings.Index(rrec, "p=")+2:]
	ep := erec[strings.Index(erec, "p=")+2:]
	ed, _ := base64.StdEncoding.DecodeString(ep)
	small, err := rsa.GenerateKey(strings.NewReader(strings.Repeat("x", 1<<16)), 512)
	var smallP string
	if err == nil {
		der, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
		smallP = base64.StdEncoding.EncodeToString(der)
	}
	for _, c := range []struct {
		rec  string
		kind error // nil for a usable key
		msg  string
	}{
		{rrec, nil, ""},
		{"v=DKIM1; k=ed25519; t=y; p=" + ep, nil, ""},
		{"v=DKIM1; junk; p=" + rp, ErrKeyTagList, `key record error: malformed tag-list: a tag without "="`},
		{"v=DKIM1; p=" + rp + "; p=" + rp, ErrKeyTagList, "key record error: malformed tag-list: duplicate tag"},
		{"v=DKIM2; p=" + rp, ErrKeyVersion, "incompatible public key version"},
		{"k=rsa; v=DKIM1; p=" + rp, ErrKeyVersionPos, "key record: v= is not the first tag"},
		{"v=DKIM1; k=rsa", ErrKeyNoData, "key syntax error: missing public key data"},
		{"v=DKIM1; p=", ErrKeyRevoked, "key revoked"},
		{"v=DKIM1; p=!!!", ErrKeyBase64, "key syntax error: p= is not base64: illegal base64 data at input byte 0"},
		{"v=DKIM1; k=rsa; p=" + ep, ErrKeyRSA, "key syntax error: p= is not an RSA public key: "},
		{"v=DKIM1; k=ed25519; p=" + rp, ErrKeyEd25519, "invalid Ed25519 public key size: "},
		{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(ed[:31]), ErrKeyEd25519, "invalid Ed25519 public key size: 31 bytes"},
		{"v=DKIM1; k=dsa; p=" + rp, ErrKeyAlgorithm, "unsupported key algorithm"},
	} {
		rec, err := ParseKeyRecord(c.rec)
		var ke *KeyRecordError
		switch {
		case c.kind == nil && err != nil:
			t.Errorf("%.40q: %v", c.rec, err)
		case c.kind != nil && (!errors.As(err, &ke) || ke.Kind != c.kind || !errors.Is(err, c.kind)):
			t.Errorf("%.40q: %v, want %v", c.rec, err, c.kind)
		case c.kind != nil && !strings.HasPrefix(err.Error(), c.msg):
			t.Errorf("%.40q: message %q, want %q", c.rec, err, c.msg)
		case c.kind != nil && c.kind != ErrKeyTagList && rec == nil:
			t.Errorf("%.40q: no record with the error", c.rec)
		}
	}
	rec, _ := ParseKeyRecord("v=DKIM1; k=ed25519; t=y; p=" + ep)
	if rec.Algo != AlgoEd25519 || !rec.Testing || rec.Strict || rec.Version != "DKIM1" || rec.KeyType != "ed25519" {
		t.Errorf("ed25519 record: %+v", rec)
	}
	if rec, _ := ParseKeyRecord(rrec); rec.Bits != 2048 || rec.RSA == nil {
		t.Errorf("rsa record: %+v", rec)
	}
	if smallP != "" {
		// RFC 8301 3.2: the record is returned with its size.
		rec, err := ParseKeyRecord("v=DKIM1; p=" + smallP)
		if !errors.Is(err, ErrKeyTooShort) || rec == nil || rec.Bits != 512 || err.Error() != "key is too short: want 1024 bits, has 512 bits" {
			t.Errorf("512-bit key: %+v %v", rec, err)
		}
	}
}

// FuzzParseKeyRecord feeds key records to ParseKeyRecord and checks that
// the verifier's form agrees with it.
func FuzzParseKeyRecord(f *testing.F) {
	ek, _, _ := GenerateKey(AlgoEd25519)
	erec, _ := PublicRecord(ek)
	for _, s := range []string{erec, "v=DKIM1; p=", "k=rsa; v=DKIM1; p=AAAA", "v=DKIM1; h=sha256; s=email:*; t=y:s; p=;;", "p=;p=", "v=DKIM1;k=ed25519;p=AAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := ParseKeyRecord(s)
		var ke *KeyRecordError
		if err != nil && !errors.As(err, &ke) {
			t.Fatalf("error %v is not a KeyRecordError", err)
		}
		if err == nil && (rec == nil || (rec.RSA == nil) == (rec.Ed25519 == nil)) {
			t.Fatalf("usable record without exactly one key: %+v", rec)
		}
		if k := parseKeyRecord(s); (k.err == nil) != (err == nil) {
			t.Fatalf("verifier %v, parser %v", k.err, err)
		}
	})
}
