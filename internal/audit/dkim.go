package audit

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"postern/internal/dns"
)

func (t *target) checkDKIM(ctx context.Context, r *Report, res dns.Resolver, d string) {
	if len(t.opt.DKIMSelectors) == 0 {
		r.add(Check{ID: "dns.dkim", Category: "dns", Title: "DKIM keys for " + d, Status: Skip,
			Detail: "No DKIM selector given (-dkim-selector); selectors cannot be discovered from DNS."})
		return
	}
	for _, sel := range t.opt.DKIMSelectors {
		name := sel + "._domainkey." + d
		c := Check{ID: "dns.dkim." + sel, Category: "dns", Title: "DKIM key " + name}
		txts, err := res.LookupTXT(ctx, name)
		if err != nil || len(txts) == 0 {
			c.Status = Fail
			c.Detail = "No DKIM key at " + name
			if err != nil && !dns.IsNotFound(err) {
				c.Detail += ": " + err.Error()
			}
			c.Fix = "Publish the selector's public key (postern dkim keygen prints the record)."
			r.add(c)
			continue
		}
		txt := strings.Join(txts, "")
		c.Evidence = []string{name + ". TXT \"" + txt + "\""}
		tags := parseTags(txt)
		c.Status, c.Detail, c.Fix = judgeDKIM(tags)
		r.add(c)
	}
}

// parseTags splits a "k=v; k=v" tag list (RFC 6376 3.2).
func parseTags(s string) map[string]string {
	m := map[string]string{}
	for _, p := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
	}
	return m
}

func judgeDKIM(tags map[string]string) (Status, string, string) {
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return Fail, "The record's version is " + strconv.Quote(v) + ", not DKIM1.", "Start the record with v=DKIM1."
	}
	p, ok := tags["p"]
	if !ok {
		return Fail, "The record has no p= (public key) tag.", "Publish the public key in p=."
	}
	// RFC 6376 3.6.1: an empty p= means the key was revoked.
	if p == "" {
		return Fail, "The key is revoked (empty p=).", "Publish the current key or stop signing with this selector."
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return Fail, "p= is not valid base64: " + err.Error(), "Publish the key exactly as the key generator printed it."
	}
	var problems []string
	st := Pass
	k := tags["k"]
	switch k {
	case "", "rsa":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			// Some publish a PKCS#1 key.
			rp, err2 := x509.ParsePKCS1PublicKey(der)
			if err2 != nil {
				return Fail, "p= is not an RSA public key: " + err.Error(), "Publish the key exactly as the key generator printed it."
			}
			pub = rp
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return Fail, "k=rsa but p= holds another kind of key.", "Fix k= or p=."
		}
		bits := rk.N.BitLen()
		switch {
		// RFC 8301 3.2: keys under 1024 bits must not be used.
		case bits < 1024:
			st = Fail
			problems = append(problems, fmt.Sprintf("the RSA key has only %d bits, which verifiers reject (RFC 8301)", bits))
		case bits < 2048:
			st = Warn
			problems = append(problems, fmt.Sprintf("the RSA key has %d bits; 2048 is the current recommendation", bits))
		default:
			problems = append(problems, fmt.Sprintf("RSA key of %d bits", bits))
		}
	case "ed25519":
		if len(der) != 32 {
			return Fail, "k=ed25519 but p= is not a 32-byte key.", "Publish the key exactly as the key generator printed it."
		}
		problems = append(problems, "Ed25519 key (RFC 8463); pair it with an RSA selector for older verifiers")
	default:
		return Fail, "Unknown key type k=" + k + ".", "Use k=rsa or k=ed25519."
	}
	// RFC 6376 3.6.1: t=y marks a domain that is testing DKIM.
	for _, f := range strings.Split(tags["t"], ":") {
		if f == "y" {
			st = worst(st, Warn)
			problems = append(problems, "the testing flag t=y is set, so verifiers treat failures as if unsigned")
		}
	}
	fix := ""
	if st != Pass {
		fix = "Publish a 2048-bit RSA key (postern dkim keygen) and remove t=y once signing works."
	}
	return st, strings.ToUpper(problems[0][:1]) + strings.Join(problems, "; ")[1:] + ".", fix
}
