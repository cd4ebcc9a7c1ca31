package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"postern/internal/dkim"
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
		c.Status, c.Detail, c.Fix = judgeDKIM(dkim.ParseKeyRecord(txt))
		r.add(c)
	}
}

const fixAsPrinted = "Publish the key exactly as the key generator printed it."

// keyProblem is what an unusable key record means to its owner.
type keyProblem struct {
	detail func(rec *dkim.KeyRecord, cause string) string
	fix    string
}

func says(s string) func(*dkim.KeyRecord, string) string {
	return func(*dkim.KeyRecord, string) string { return s }
}

// keyProblems maps each kind of unusable key record (dkim.ParseKeyRecord)
// to the words of the report. RFC 8301 3.2 keys under 1024 bits are not
// here: they are reported with the rest of the key.
var keyProblems = map[error]keyProblem{
	// RFC 6376 3.2: a malformed tag-list makes the record unusable.
	dkim.ErrKeyTagList: {func(_ *dkim.KeyRecord, cause string) string {
		return "The record is malformed, so verifiers reject the key: " + cause + "."
	}, fixAsPrinted},
	dkim.ErrKeyVersion: {func(rec *dkim.KeyRecord, _ string) string {
		return "The record's version is " + strconv.Quote(rec.Version) + ", not DKIM1."
	}, "Start the record with v=DKIM1."},
	// RFC 6376 3.6.1: v=, when present, is the first tag.
	dkim.ErrKeyVersionPos: {says("v=DKIM1 is not the first tag, so verifiers reject the key (RFC 6376 3.6.1)."), "Start the record with v=DKIM1."},
	dkim.ErrKeyNoData:     {says("The record has no p= (public key) tag."), "Publish the public key in p=."},
	// RFC 6376 3.6.1: an empty p= means the key was revoked.
	dkim.ErrKeyRevoked: {says("The key is revoked (empty p=)."), "Publish the current key or stop signing with this selector."},
	dkim.ErrKeyBase64: {func(_ *dkim.KeyRecord, cause string) string {
		return "p= is not valid base64: " + cause
	}, fixAsPrinted},
	dkim.ErrKeyRSA: {func(_ *dkim.KeyRecord, cause string) string {
		return "p= is not an RSA public key: " + cause
	}, fixAsPrinted},
	dkim.ErrKeyNotRSA:  {says("k=rsa but p= holds another kind of key."), "Fix k= or p=."},
	dkim.ErrKeyEd25519: {says("k=ed25519 but p= is not a 32-byte key."), fixAsPrinted},
	dkim.ErrKeyAlgorithm: {func(rec *dkim.KeyRecord, _ string) string {
		return "Unknown key type k=" + rec.KeyType + "."
	}, "Use k=rsa or k=ed25519."},
}

// judgeDKIM judges a key record as dkim.ParseKeyRecord read it.
func judgeDKIM(rec *dkim.KeyRecord, err error) (Status, string, string) {
	var ke *dkim.KeyRecordError
	if errors.As(err, &ke) && ke.Kind != dkim.ErrKeyTooShort {
		cause := ""
		if ke.Cause != nil {
			cause = ke.Cause.Error()
		}
		p := keyProblems[ke.Kind]
		return Fail, p.detail(rec, cause), p.fix
	}
	var problems []string
	st := Pass
	switch bits := rec.Bits; {
	case rec.Algo == dkim.AlgoEd25519:
		problems = append(problems, "Ed25519 key (RFC 8463); pair it with an RSA selector for older verifiers")
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
	// RFC 6376 3.6.1: t=y marks a domain that is testing DKIM.
	if rec.Testing {
		st = worst(st, Warn)
		problems = append(problems, "the testing flag t=y is set, so verifiers treat failures as if unsigned")
	}
	fix := ""
	if st != Pass {
		fix = "Publish a 2048-bit RSA key (postern dkim keygen) and remove t=y once signing works."
	}
	return st, strings.ToUpper(problems[0][:1]) + strings.Join(problems, "; ")[1:] + ".", fix
}
