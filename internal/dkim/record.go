package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// RecordMatches checks that a selector's published TXT record (as
// returned by a resolver, one string per record) publishes the public
// half of key: exactly one record, v=DKIM1 if present, the right k= (rsa
// when absent, RFC 6376 3.6.1) and the same public key in p=.
func RecordMatches(txts []string, key crypto.Signer) error {
	if len(txts) == 0 {
		return errors.New("no TXT record")
	}
	if len(txts) > 1 {
		// RFC 6376 3.6.2.2: several records for one selector give
		// undefined results.
		return fmt.Errorf("%d TXT records, want one", len(txts))
	}
	tags := map[string]string{}
	for _, spec := range strings.Split(txts[0], ";") {
		name, v, ok := strings.Cut(spec, "=")
		if !ok {
			if strings.TrimSpace(spec) != "" {
				return fmt.Errorf("malformed tag %q", strings.TrimSpace(spec))
			}
			continue
		}
		tags[strings.TrimSpace(name)] = stripFWS(v)
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return fmt.Errorf("v=%s, want DKIM1", v)
	}
	p, ok := tags["p"]
	if !ok {
		return errors.New("no p= tag")
	}
	if p == "" {
		return errors.New("key revoked (empty p=)")
	}
	raw, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return fmt.Errorf("p= is not base64: %v", err)
	}
	k := tags["k"]
	if k == "" {
		k = AlgoRSA
	}
	if want := KeyAlgo(key); k != want {
		return fmt.Errorf("k=%s, but the key is %s", k, want)
	}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		got, err := x509.ParsePKIXPublicKey(raw)
		if err != nil {
			got, err = x509.ParsePKCS1PublicKey(raw)
		}
		if err != nil {
			return fmt.Errorf("p= is not an RSA public key: %v", err)
		}
		if rp, ok := got.(*rsa.PublicKey); !ok || !pub.Equal(rp) {
			return errors.New("p= is a different key")
		}
	case ed25519.PublicKey:
		if !pub.Equal(ed25519.PublicKey(raw)) {
			return errors.New("p= is a different key")
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}
