package dkim

// What ARC (RFC 8617, internal/arc) takes from DKIM: RFC 8617 4.1.2 and
// 4.1.3 define the ARC-Message-Signature and ARC-Seal with DKIM's
// tag-list, canonicalizations, header selection, keys and signature
// algorithms, so they are this package's, exported here.

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	pdns "postern/internal/dns"
)

// HeaderField is one field of a header block: Start and End delimit
// it (name, value, continuation lines and line ends), Name is its name.
type HeaderField struct {
	Start, End int
	Name       []byte
}

// SplitHeader returns the header block head with CRLF line ends and its
// fields, up to the empty line that ends it.
func SplitHeader(head []byte) ([]byte, []HeaderField) {
	head = normalizeLineEnds(nil, head)
	hf := splitFields(head, nil)
	out := make([]HeaderField, len(hf))
	for i, f := range hf {
		out[i] = HeaderField{Start: f.start, End: f.end, Name: f.name}
	}
	return head, out
}

// ReadHeader reads the header block at the start of br, with the empty
// line that ends it (added when the message has no body).
func ReadHeader(br *bufio.Reader) ([]byte, error) {
	h, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	return terminateHeader(h), nil
}

// AppendCanonHeader appends field f canonicalized, relaxed (RFC 6376
// 3.4.2) or simple (3.4.1).
func AppendCanonHeader(dst, f []byte, relaxed bool) []byte {
	return appendCanonHeader(dst, f, canonOf(relaxed))
}

// AppendSigField appends the signature field f as it is hashed (RFC
// 6376 3.7): b= (f[bStart:bEnd]) taken as empty, canonicalized, no final
// CRLF.
func AppendSigField(dst, f []byte, bStart, bEnd int, relaxed bool) []byte {
	return appendSigField(dst, f, bStart, bEnd, canonOf(relaxed))
}

// AppendSignedFields appends the fields named in the h= value h as RFC
// 6376 5.4.2 selects them: each name takes the last instance not yet
// taken, a name with none left adds nothing.
func AppendSignedFields(dst, head []byte, fields []HeaderField, h []byte, relaxed bool) []byte {
	used := make([]bool, len(fields))
	var buf [64]byte
	for rest := h; rest != nil; {
		var name []byte
		name, rest = nextName(rest, buf[:0])
		for i := len(fields) - 1; i >= 0; i-- {
			if used[i] || !sameName(fields[i].Name, name) {
				continue
			}
			used[i] = true
			dst = appendCanonHeader(dst, head[fields[i].Start:fields[i].End], canonOf(relaxed))
			break
		}
	}
	return dst
}

func canonOf(relaxed bool) canon {
	if relaxed {
		return canonRelaxed
	}
	return canonSimple
}

// ParseCanon reads a c= value: header and body relaxed or not; ok false
// when it names an unknown algorithm.
func ParseCanon(v string) (hdrRelaxed, bodyRelaxed, ok bool) {
	h, b, ok := parseCanon(v)
	return h == canonRelaxed, b == canonRelaxed, ok
}

// Tag is one tag-spec of a tag-list (RFC 6376 3.2): name and value
// without the FWS around them; Start and End delimit the raw value in
// the parsed text.
type Tag struct {
	Name, Value []byte
	Start, End  int
}

// ParseTags parses a tag-list (RFC 6376 3.2): a tag without "=" or a
// name given twice makes it invalid.
func ParseTags(s []byte) ([]Tag, error) {
	tags, err := parseTagList(s, nil)
	out := make([]Tag, len(tags))
	for i, t := range tags {
		out[i] = Tag{Name: t.name, Value: t.value, Start: t.start, End: t.end}
	}
	return out, err
}

// DecodeBase64 decodes a base64 tag value, FWS ignored (RFC 6376 3.2).
func DecodeBase64(b []byte) ([]byte, error) { return decodeBase64(nil, b) }

// BodyHashes returns the SHA-256 hashes of the body read from r,
// canonicalized simple (RFC 6376 3.4.3) when simple is set and relaxed
// (3.4.4) when relaxed is; nil for the one not asked for. The body is
// read once.
func BodyHashes(r io.Reader, simple, relaxed bool) (s, rx []byte, err error) {
	var hs [numCanons]bodyHasher
	need := [numCanons]bool{canonSimple: simple, canonRelaxed: relaxed}
	for c := range numCanons {
		if need[c] {
			hs[c].reset(c, sha256.New())
		}
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for c := range numCanons {
			if need[c] {
				hs[c].write(buf[:n])
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if simple {
		s = hs[canonSimple].sum(nil)
	}
	if relaxed {
		rx = hs[canonRelaxed].sum(nil)
	}
	return s, rx, nil
}

// CheckHash checks sig, made with the key published at
// SELECTOR._domainkey.DOMAIN (RFC 6376 3.6.2), over the SHA-256 hash
// hashed, with the key algorithm keyAlgo ("rsa" or "ed25519"). It
// returns Pass or the result (Fail, PermError, TempError, Policy) with
// the error. The key record is cached as for Verify.
func (v *Verifier) CheckHash(ctx context.Context, resolver pdns.Resolver, domain, selector, keyAlgo string, hashed, sig []byte) (string, error) {
	k, verr := lookupKey(ctx, resolver, v.keys, selector+"._domainkey."+domain)
	if verr != nil {
		return verr.result, verr
	}
	if k.hashes != nil && !listHas(k.hashes, "sha256") {
		return PermError, permFail("inappropriate hash algorithm")
	}
	if k.algo != keyAlgo {
		return PermError, permFail("inappropriate key algorithm")
	}
	if err := checkSignature(k, hashed, sig); err != nil {
		return Fail, sigFail("signature did not verify: " + err.Error())
	}
	return Pass, nil
}

// SealKey returns the first active RSA key of domain (RFC 8617 4.1.3:
// rsa-sha256 is ARC's algorithm) and its selector.
func (s *Signer) SealKey(domain string) (selector string, key crypto.Signer, err error) {
	keys, err := s.keys(domain)
	if err != nil {
		return "", nil, err
	}
	for _, k := range keys {
		if _, ok := k.key.(*rsa.PrivateKey); ok {
			return k.selector, k.key, nil
		}
	}
	return "", nil, fmt.Errorf("dkim: %s has no active RSA key: %w", domain, ErrNoKey)
}

// ErrNoKey is SealKey's error when the domain has no usable key.
var ErrNoKey = errors.New("no signing key")
