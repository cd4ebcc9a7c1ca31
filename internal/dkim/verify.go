// Package dkim verifies DKIM signatures (RFC 6376, with Ed25519 from
// RFC 8463 and the algorithm rules of RFC 8301) and signs outgoing mail
// with keys kept under data_dir/dkim. The cryptography and
// canonicalization come from github.com/emersion/go-msgauth/dkim; postern
// adds the limits, the result vocabulary of RFC 8601, key storage and
// selector rotation.
package dkim

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/emersion/go-msgauth/authres"
	msgdkim "github.com/emersion/go-msgauth/dkim"

	pdns "postern/internal/dns"
)

// DefaultMaxSignatures is how many signatures are checked per message
// when VerifyOptions.MaxSignatures is 0. RFC 6376 6.1: verifiers MAY
// limit the number of signatures they try, to bound the work a message
// can cause.
const DefaultMaxSignatures = 5

// minReaderSize is the smallest *bufio.Reader Verify takes as it is: the
// verifier library's own minimum, below which it would wrap the reader
// in another one.
const minReaderSize = 4096

// VerifyOptions tune verification.
type VerifyOptions struct {
	MaxSignatures int // signatures checked per message; 0 means DefaultMaxSignatures
}

// Results of one signature, as RFC 8601 2.7.1 names them.
const (
	Pass      = "pass"
	Fail      = "fail"
	Policy    = "policy"
	Neutral   = "neutral"
	TempError = "temperror"
	PermError = "permerror"
	None      = "none"
)

// Result is the outcome of checking one DKIM-Signature.
type Result struct {
	Result    string // Pass, Fail, Policy, Neutral, TempError or PermError
	Reason    string // short words for the header and the log
	Domain    string // d=, the signing domain (SDID)
	Selector  string // s=
	AUID      string // i=, or "@" + d= when absent
	Algorithm string // a=
	B         string // b=, the signature, white space removed
	Err       error  // the verifier's error, for the log; nil on pass
}

// AuthResult returns the dkim= clause for Authentication-Results
// (RFC 8601 2.7.1), with header.d, header.i, header.s, header.a and the
// first 8 characters of header.b (RFC 6008 2, enough to tell signatures
// of one domain apart).
func (r Result) AuthResult() authres.Result {
	b := r.B
	if len(b) > 8 {
		b = b[:8]
	}
	return &authres.GenericResult{
		Method: "dkim",
		Value:  authres.ResultValue(r.Result),
		Params: map[string]string{
			"reason":   r.Reason,
			"header.d": printable(r.Domain),
			"header.i": printable(r.AUID),
			"header.s": printable(r.Selector),
			"header.a": printable(r.Algorithm),
			"header.b": printable(b),
		},
	}
}

// AuthResults returns the dkim= clauses for a message: one per checked
// signature, or a single dkim=none when there were none (RFC 8601 2.7.1).
func AuthResults(results []Result) []authres.Result {
	if len(results) == 0 {
		return []authres.Result{&authres.GenericResult{Method: "dkim", Value: authres.ResultNone, Params: map[string]string{}}}
	}
	out := make([]authres.Result, len(results))
	for i, r := range results {
		out[i] = r.AuthResult()
	}
	return out
}

// Verify checks the DKIM signatures of a message (header and body as on
// the wire, CRLF line ends). It returns one Result per signature checked,
// in header order; a message without signatures gives no results. The
// error is set only when the message cannot be read or parsed at all.
func Verify(ctx context.Context, resolver pdns.Resolver, log *slog.Logger, msg io.Reader, opt VerifyOptions) ([]Result, error) {
	max := opt.MaxSignatures
	if max <= 0 {
		max = DefaultMaxSignatures
	}
	// A caller's *bufio.Reader is used as it is (a caller verifying many
	// messages keeps a few for reuse); headers longer than its buffer
	// are read the slow way below.
	br, ok := msg.(*bufio.Reader)
	if !ok || br.Size() < minReaderSize {
		br = bufio.NewReaderSize(msg, 64*1024)
	}
	var tags []sigTags
	var src io.Reader
	if head, found := peekHeader(br); found {
		// The usual case: the header is in br's buffer, read from there
		// in place, and the verifier reads br from the start (a
		// *bufio.Reader is taken as it is, and hands the rest of the
		// body to the canonicalizer in large writes).
		tags = signatureTags(head)
		src = br
	} else {
		head, err := readHeader(br)
		if err != nil {
			return nil, fmt.Errorf("dkim: reading header: %w", err)
		}
		head = terminateHeader(head)
		tags = signatureTags(head)
		// The struct hides the MultiReader's WriteTo, which would allocate a
		// 32 KiB copy buffer per message; the library's own buffer is used.
		src = struct{ io.Reader }{io.MultiReader(bytes.NewReader(head), br)}
	}
	if len(tags) == 0 {
		return nil, nil
	}
	keys := &keyRecords{txt: map[string][]string{}}
	lookup := func(name string) ([]string, error) {
		txts, err := resolver.LookupTXT(ctx, name)
		if err == nil {
			keys.put(name, txts)
		}
		return txts, err
	}
	verifs, err := msgdkim.VerifyWithOptions(src, &msgdkim.VerifyOptions{
		LookupTXT:        lookup,
		MaxVerifications: max,
	})
	if errors.Is(err, msgdkim.ErrTooManySignatures) {
		log.InfoContext(ctx, "dkim signatures over the limit", "signatures", len(tags), "checked", max)
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	results := make([]Result, 0, len(verifs))
	for i, v := range verifs {
		var t sigTags
		if i < len(tags) {
			t = tags[i]
		}
		r := Result{Domain: t.Domain, Selector: t.Selector, Algorithm: t.Algorithm, B: t.B, AUID: t.AUID}
		if v.Domain != "" {
			r.Domain = v.Domain
		}
		if v.Identifier != "" {
			r.AUID = v.Identifier
		}
		r.Result, r.Reason, r.Err = classify(v.Err)
		if r.Result == Pass {
			// RFC 6376 3.6.1: a key with t=s must not be used for an
			// AUID in a subdomain of d=.
			if err := keys.checkStrict(r.Selector, r.Domain, r.AUID); err != nil {
				r.Result, r.Reason, r.Err = PermError, "key does not allow this identity", err
			}
		}
		log.DebugContext(ctx, "dkim", "result", r.Result, "d", r.Domain, "s", r.Selector, "a", r.Algorithm, "err", r.Err)
		results = append(results, r)
	}
	return results, nil
}

// classify maps the verifier's error to an RFC 8601 result.
func classify(err error) (result, reason string, _ error) {
	if err == nil {
		return Pass, "", nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "hash algorithm too weak"):
		// RFC 8301 3.1: verifiers MUST NOT consider rsa-sha1 signatures
		// valid; the signature was not even checked, so "policy".
		return Policy, "rsa-sha1 is not accepted", err
	case strings.Contains(msg, "key is too short"):
		// RFC 8301 3.2: RSA keys under 1024 bits are not valid.
		return Policy, "RSA key under 1024 bits", err
	case strings.Contains(msg, "insecure body length tag"):
		// An l= tag leaves part of the body unsigned; refused by policy.
		return Policy, "body length tag not accepted", err
	case msgdkim.IsTempFail(err):
		return TempError, "key lookup failed", err
	case msgdkim.IsPermFail(err):
		return PermError, "unusable signature or key", err
	case strings.Contains(msg, "did not verify"):
		return Fail, "signature does not verify", err
	}
	return PermError, "unusable signature", err
}

// keyRecords keeps the key records fetched during one verification.
type keyRecords struct {
	mu  sync.Mutex
	txt map[string][]string
}

func (k *keyRecords) put(name string, txts []string) {
	k.mu.Lock()
	k.txt[strings.ToLower(strings.TrimSuffix(name, "."))] = txts
	k.mu.Unlock()
}

// checkStrict applies the key's t=s flag (RFC 6376 3.6.1): the domain of
// the i= identity must then be exactly d=.
func (k *keyRecords) checkStrict(selector, domain, auid string) error {
	k.mu.Lock()
	txts := k.txt[strings.ToLower(selector+"._domainkey."+domain)]
	k.mu.Unlock()
	if len(txts) != 1 {
		return nil
	}
	for _, spec := range strings.Split(txts[0], ";") {
		name, v, ok := strings.Cut(spec, "=")
		if !ok || strings.TrimSpace(name) != "t" {
			continue
		}
		for _, flag := range strings.Split(v, ":") {
			if strings.TrimSpace(flag) != "s" {
				continue
			}
			_, idDomain, _ := strings.Cut(auid, "@")
			if !strings.EqualFold(idDomain, domain) {
				return fmt.Errorf("key has t=s but i= domain %q is not d= %q", idDomain, domain)
			}
		}
	}
	return nil
}

// printable drops control characters and invalid UTF-8 from text put in
// a header.
func printable(s string) string {
	if plainASCII(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

// plainASCII reports whether s is printable ASCII only, which printable
// leaves as it is (the usual case, and cheap to tell).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
