package dkim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
)

func TestParseKeyRecord(t *testing.T) {
	rk, _, err := GenerateKey(AlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	ek, _, _ := GenerateKey(AlgoEd25519)
	rrec, _ := PublicRecord(rk)
	erec, _ := PublicRecord(ek)
	rp := rrec[strings.Index(rrec, "p=")+2:]
	ep := erec[strings.Index(erec, "p=")+2:]
	pkcs1 := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(rk.Public().(*rsa.PublicKey)))
	small, err := rsa.GenerateKey(strings.NewReader(strings.Repeat("x", 1<<16)), 512)
	var smallP string
	if err == nil {
		der, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
		smallP = base64.StdEncoding.EncodeToString(der)
	}
	for _, c := range []struct {
		rec    string
		result string // "" for a usable key
		check  func(*pubKey) bool
	}{
		{rrec, "", func(k *pubKey) bool { return k.algo == AlgoRSA && k.email && k.hashes == nil }},
		{erec, "", func(k *pubKey) bool { return k.algo == AlgoEd25519 }},
		{"p=" + rp, "", func(k *pubKey) bool { return k.algo == AlgoRSA }}, // k=rsa is the default
		{"v=DKIM1; p=" + pkcs1, "", func(k *pubKey) bool { return k.rsa != nil }},
		{"v=DKIM1; k=rsa; p=" + rp[:20] + "\r\n " + rp[20:], "", nil}, // FWS in base64
		{"v=DKIM1; h=sha1:sha256; s=email; t=y:s; p=" + rp, "", func(k *pubKey) bool {
			return len(k.hashes) == 2 && k.email && k.testing && k.strict
		}},
		{"v=DKIM1; s=*; p=" + rp, "", func(k *pubKey) bool { return k.email }},
		{"v=DKIM1; s=tlsrpt; p=" + rp, "", func(k *pubKey) bool { return !k.email }},
		{"v=DKIM1; s = email : tlsrpt ; p=" + rp, "", func(k *pubKey) bool { return k.email }},
		{"k=rsa; v=DKIM1; p=" + rp, PermError, nil}, // RFC 6376 3.6.1: v= first
		{"v=DKIM2; p=" + rp, PermError, nil},
		{"v=DKIM1; p=", PermError, nil}, // revoked
		{"v=DKIM1; k=rsa", PermError, nil},
		{"v=DKIM1; p=!!!", PermError, nil},
		{"v=DKIM1; k=dsa; p=" + rp, PermError, nil},
		{"v=DKIM1; k=rsa; p=" + ep, PermError, nil},
		{"v=DKIM1; k=ed25519; p=" + rp, PermError, nil},
		{"v=DKIM1; p=" + rp + "; p=" + rp, PermError, nil}, // duplicate tag
		{"v=DKIM1; junk; p=" + rp, PermError, nil},
	} {
		k := parseKeyRecord(c.rec)
		switch {
		case c.result == "" && k.err != nil:
			t.Errorf("%.40q: %v", c.rec, k.err)
		case c.result != "" && (k.err == nil || k.err.result != c.result):
			t.Errorf("%.40q: %+v, want %s", c.rec, k.err, c.result)
		case c.check != nil && k.err == nil && !c.check(k):
			t.Errorf("%.40q: %+v", c.rec, k)
		}
	}
	if smallP != "" {
		// RFC 8301 3.2: a 512-bit key is refused by policy.
		if k := parseKeyRecord("v=DKIM1; p=" + smallP); k.err == nil || k.err.result != Policy {
			t.Errorf("512-bit key: %+v", k.err)
		}
	}
}

func TestKeyCache(t *testing.T) {
	ek, _, _ := GenerateKey(AlgoEd25519)
	rec, _ := PublicRecord(ek)
	c := newKeyCache(3)
	a := c.get(rec)
	if b := c.get(rec); a != b {
		t.Error("the same record was parsed twice")
	}
	// A changed record (here only its white space) is parsed anew.
	if b := c.get(rec + " "); b == a {
		t.Error("a changed record came from the cache")
	}
	for i := 0; i < 10; i++ {
		c.get(rec + strings.Repeat(";", i+1))
	}
	if n := c.len(); n != 3 {
		t.Errorf("%d entries, bound 3", n)
	}
	// Over-long records are not kept.
	long := rec + "; n=" + strings.Repeat("x", maxCachedRecord)
	if k := c.get(long); k.err != nil || c.get(long) == k {
		t.Errorf("long record: %v, or kept", k.err)
	}
}
