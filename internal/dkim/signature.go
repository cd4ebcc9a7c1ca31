package dkim

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// tag is one tag-spec of a tag-list (RFC 6376 3.2): its name and value
// with the white space around them removed, and where the raw value
// (everything between "=" and the next ";") lies in the parsed text.
type tag struct {
	name, value []byte
	start, end  int
}

// maxLinearTags is the tag count up to which duplicates are looked for
// by comparing with every earlier tag; longer lists use a map.
const maxLinearTags = 32

var (
	errMalformedTags = errors.New("malformed tag-list: a tag without \"=\"")
	errDuplicateTag  = errors.New("malformed tag-list: duplicate tag")
)

// parseTagList splits s into its tags, appended to dst. RFC 6376 3.2: a
// tag-spec without "=" or a tag name given twice makes the whole list
// invalid; empty tag-specs (";;", a final ";") are skipped. On error the
// tags read so far (the later of two duplicates replacing the earlier)
// are returned too, for reporting.
func parseTagList(s []byte, dst []tag) ([]tag, error) {
	var err error
	var seen map[string]int
	for pos := 0; pos <= len(s); {
		end := bytes.IndexByte(s[pos:], ';')
		if end < 0 {
			end = len(s)
		} else {
			end += pos
		}
		spec := s[pos:end]
		start := pos
		pos = end + 1
		eq := bytes.IndexByte(spec, '=')
		if eq < 0 {
			if len(trimFWS(spec)) != 0 && err == nil {
				err = errMalformedTags
			}
			continue
		}
		t := tag{name: trimFWS(spec[:eq]), value: trimFWS(spec[eq+1:]), start: start + eq + 1, end: end}
		dup := -1
		if len(dst) < maxLinearTags && seen == nil {
			for i := range dst {
				if bytes.Equal(dst[i].name, t.name) {
					dup = i
					break
				}
			}
		} else {
			if seen == nil {
				seen = make(map[string]int, 2*len(dst))
				for i := range dst {
					seen[string(dst[i].name)] = i
				}
			}
			if i, ok := seen[string(t.name)]; ok {
				dup = i
			} else {
				seen[string(t.name)] = len(dst)
			}
		}
		if dup >= 0 {
			// RFC 6376 3.2: duplicate tag names make the list invalid.
			if err == nil {
				err = errDuplicateTag
			}
			dst[dup] = t
			continue
		}
		dst = append(dst, t)
	}
	return dst, err
}

// lookupTag returns the tag named name.
func lookupTag(tags []tag, name string) (tag, bool) {
	for _, t := range tags {
		if string(t.name) == name {
			return t, true
		}
	}
	return tag{}, false
}

// isFWS reports whether c is folding white space (RFC 6376 2.8: WSP and
// the CR LF of folded lines).
func isFWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// trimFWS removes FWS at both ends of b.
func trimFWS(b []byte) []byte {
	for len(b) > 0 && isFWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isFWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// hasFWS reports whether b holds folding white space anywhere.
func hasFWS(b []byte) bool {
	for _, c := range b {
		if isFWS(c) {
			return true
		}
	}
	return false
}

// appendNoFWS appends b to dst without its FWS (RFC 6376 3.2: white
// space inside base64 and similar values is ignored).
func appendNoFWS(dst, b []byte) []byte {
	for _, c := range b {
		if !isFWS(c) {
			dst = append(dst, c)
		}
	}
	return dst
}

// noFWS returns b without FWS, as a string.
func noFWS(b []byte) string {
	if !hasFWS(b) {
		return string(b)
	}
	return string(appendNoFWS(make([]byte, 0, len(b)), b))
}

// canon is a canonicalization algorithm (RFC 6376 3.4).
type canon uint8

const (
	canonSimple canon = iota
	canonRelaxed
	numCanons
)

// parseCanon reads c=: header[/body], each "simple" or "relaxed"; an
// absent or empty part is simple (RFC 6376 3.5: the default is
// simple/simple, and "relaxed" alone means relaxed/simple).
func parseCanon(v string) (hdr, body canon, ok bool) {
	h, b, slash := strings.Cut(v, "/")
	hdr, ok = canonName(h, true)
	if !ok {
		return 0, 0, false
	}
	if !slash {
		return hdr, canonSimple, true
	}
	body, ok = canonName(b, false)
	return hdr, body, ok
}

func canonName(s string, emptyOK bool) (canon, bool) {
	switch s {
	case "simple":
		return canonSimple, true
	case "relaxed":
		return canonRelaxed, true
	case "":
		return canonSimple, emptyOK
	}
	return 0, false
}

// sigCheck is one DKIM-Signature being checked: what was read from it
// and how far it got.
type sigCheck struct {
	res   Result // the result being built; Result, Reason and Err set on failure
	field int    // index of the field in the header
	// bStart and bEnd delimit the b= value in the field (RFC 6376
	// 3.7: it is taken as empty when hashing the field itself).
	bStart, bEnd int

	headers   []byte // h=, raw
	keyName   string // SELECTOR._domainkey.DOMAIN
	keyAlgo   string // a= before "-"
	hashAlgo  string // a= after "-"
	algoOK    bool   // a= has a "-"
	hdrCanon  canon
	bodyCanon canon
	canonOK   bool
	hasL      bool
	bh, b     []byte // decoded bh= and b=
	bhErr     error
	bErr      error

	key      *pubKey      // the key record, once looked up
	keyFrom  int          // index of an earlier signature with the same key name, or -1
	keyErr   *verifyError // why there is no key
	bodyOK   bool         // every check not needing the key passed: the body hash is needed
	headHash [32]byte     // SHA-256 of the canonicalized header fields
}

// parseSignature reads the DKIM-Signature field f (its value starting at
// valueStart) into s and applies the checks RFC 6376 6.1.1 makes before
// the key is looked up, in the order the result is decided: malformed
// tag-list, v=, required tags, i= and d=, From in h=, t= and x=, q=.
// s.res.Err is set when one fails.
func parseSignature(s *sigCheck, f []byte, valueStart int, tags []tag, now time.Time) []tag {
	tags, err := parseTagList(f[valueStart:], tags[:0])
	for i := range tags {
		tags[i].start += valueStart
		tags[i].end += valueStart
	}
	get := func(name string) ([]byte, bool) {
		t, ok := lookupTag(tags, name)
		return t.value, ok
	}
	// For the Authentication-Results clause, whatever could be read.
	d, _ := get("d")
	sel, _ := get("s")
	a, _ := get("a")
	b, _ := get("b")
	s.res.Domain = noFWS(d)
	s.res.Selector = noFWS(sel)
	s.res.Algorithm = noFWS(a)
	s.res.B = noFWS(b)
	if i, ok := get("i"); ok {
		s.res.AUID = noFWS(i)
	} else if s.res.Domain != "" {
		s.res.AUID = "@" + s.res.Domain
	}
	if bt, ok := lookupTag(tags, "b"); ok {
		s.bStart, s.bEnd = bt.start, bt.end
	} else {
		s.bStart, s.bEnd = -1, -1
	}

	if err != nil {
		s.res.Err = permFail(err.Error())
		return tags
	}
	// RFC 6376 3.5: v=1 is required, and is the only version.
	if v, _ := get("v"); string(v) != "1" {
		s.res.Err = permFail("incompatible signature version")
		return tags
	}
	// RFC 6376 6.1.1: a signature missing a required tag is invalid.
	for _, name := range requiredSigTags {
		if _, ok := get(name); !ok {
			s.res.Err = permFail("signature missing required tag " + name + "=")
			return tags
		}
	}
	if i, ok := get("i"); ok {
		auid, err := decodeDKIMQP(i)
		if err != nil {
			s.res.Err = permFail("malformed i=: " + err.Error())
			return tags
		}
		s.res.AUID = auid
		// RFC 6376 3.5: the domain of i= must be d= or a subdomain of it.
		at := strings.LastIndexByte(auid, '@')
		if at < 0 || !inDomain(auid[at+1:], s.res.Domain) {
			s.res.Err = permFail("i= is not in the domain of d=")
			return tags
		}
	}
	h, _ := get("h")
	s.headers = h
	// RFC 6376 5.4: the From field must be signed.
	fromSigned := false
	var buf [64]byte
	for rest := h; rest != nil; {
		var name []byte
		name, rest = nextName(rest, buf[:0])
		if bytes.EqualFold(name, []byte("from")) {
			fromSigned = true
			break
		}
	}
	if !fromSigned {
		s.res.Err = permFail("From field not signed")
		return tags
	}
	var signed, expires int64
	tv, hasT := get("t")
	if hasT {
		if signed, err = parseTimestamp(tv); err != nil {
			s.res.Err = permFail("malformed t=")
			return tags
		}
	}
	if xv, ok := get("x"); ok {
		if expires, err = parseTimestamp(xv); err != nil {
			s.res.Err = permFail("malformed x=")
			return tags
		}
		// RFC 6376 3.5: a signature past its x= is invalid.
		if now.After(time.Unix(expires, 0)) {
			s.res.Err = permFail("signature has expired")
			return tags
		}
		// RFC 6376 3.5: x= must not be before t=.
		if hasT && expires < signed {
			s.res.Err = permFail("x= is before t=")
			return tags
		}
	}
	// RFC 6376 3.5: q= lists query methods; dns/txt is the only one.
	if q, ok := get("q"); ok {
		known := false
		for rest := q; rest != nil; {
			var m []byte
			m, rest = nextName(rest, buf[:0])
			if string(m) == "dns/txt" {
				known = true
				break
			}
		}
		if !known {
			s.res.Err = permFail("unsupported public key query method")
			return tags
		}
	}
	s.keyName = s.res.Selector + "._domainkey." + s.res.Domain

	// Checks made after the key lookup (so that a failed lookup is
	// reported first), read now.
	ka, ha, ok := strings.Cut(s.res.Algorithm, "-")
	s.keyAlgo, s.hashAlgo, s.algoOK = ka, ha, ok
	c, _ := get("c")
	s.hdrCanon, s.bodyCanon, s.canonOK = parseCanon(noFWS(c))
	_, s.hasL = get("l")
	bh, _ := get("bh")
	s.bh, s.bhErr = decodeBase64(s.bh[:0], bh)
	s.b, s.bErr = decodeBase64(s.b[:0], b)
	s.bodyOK = s.algoOK && s.hashAlgo == "sha256" && s.canonOK && !s.hasL && s.bhErr == nil && s.bErr == nil
	return tags
}

// requiredSigTags are the tags RFC 6376 3.5 requires.
var requiredSigTags = [...]string{"v", "a", "b", "bh", "d", "h", "s"}

// checkWithKey applies the checks that follow the key lookup, in order
// (RFC 6376 6.1.2 and 6.1.3, RFC 8301): algorithm, key hash list, hash,
// key type, service, canonicalization, l=, base64 of bh= and b=.
func (s *sigCheck) checkWithKey(k *pubKey) *verifyError {
	if !s.algoOK {
		return permFail("malformed algorithm name")
	}
	if k.hashes != nil && !listHas(k.hashes, s.hashAlgo) {
		// RFC 6376 3.6.1: h= of the key lists the acceptable hashes.
		return permFail("inappropriate hash algorithm")
	}
	switch s.hashAlgo {
	case "sha1":
		// RFC 8301 3.1: verifiers must not consider rsa-sha1 signatures
		// valid; refused unchecked.
		return &verifyError{Policy, "rsa-sha1 is not accepted", "hash algorithm too weak: sha1"}
	case "sha256":
	default:
		return permFail("unsupported hash algorithm")
	}
	if k.algo != s.keyAlgo {
		return permFail("inappropriate key algorithm")
	}
	if !k.email {
		// RFC 6376 3.6.1: s= of the key must include "email" or "*".
		return permFail("inappropriate service")
	}
	if !s.canonOK {
		return permFail("unsupported canonicalization algorithm")
	}
	if s.hasL {
		// An l= tag leaves part of the body unsigned (RFC 6376 8.2);
		// refused by policy.
		return &verifyError{Policy, "body length tag not accepted", "message contains an insecure body length tag"}
	}
	if s.bhErr != nil {
		return permFail("malformed body hash: " + s.bhErr.Error())
	}
	if s.bErr != nil {
		return permFail("malformed signature: " + s.bErr.Error())
	}
	return nil
}

func listHas(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// nextListItem returns the first item of a colon-separated list (h=,
// q=) with FWS removed at its ends, and the rest (nil after the last).
func nextListItem(l []byte) (item, rest []byte) {
	i := bytes.IndexByte(l, ':')
	if i < 0 {
		return trimFWS(l), nil
	}
	return trimFWS(l[:i]), l[i+1:]
}

// nextName is nextListItem with white space inside the item removed too
// (a header field name has none, RFC 5322 3.6.8; VT and FF go as well,
// as the signer's library drops them), using buf when it must copy.
func nextName(l []byte, buf []byte) (item, rest []byte) {
	item, rest = nextListItem(l)
	for _, c := range item {
		if isSpaceASCII(c) {
			clean := buf[:0]
			for _, c := range item {
				if !isSpaceASCII(c) {
					clean = append(clean, c)
				}
			}
			return clean, rest
		}
	}
	return item, rest
}

// parseTimestamp reads t= or x=: decimal seconds since 1970 (RFC 6376
// 3.5: 1*12DIGIT; up to 18 digits accepted here).
func parseTimestamp(b []byte) (int64, error) {
	b = trimFWS(b)
	if len(b) == 0 || len(b) > 18 {
		return 0, errors.New("bad timestamp")
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errors.New("bad timestamp")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// decodeBase64 decodes a base64 value, appending to dst. FWS in it is
// ignored (RFC 6376 3.2), and so are VT and FF, as the signer's library
// ignores them.
func decodeBase64(dst, b []byte) ([]byte, error) {
	var tmp [1024]byte
	clean := b
	for _, c := range b {
		if isSpaceASCII(c) {
			clean = tmp[:0]
			for _, c := range b {
				if !isSpaceASCII(c) {
					clean = append(clean, c)
				}
			}
			break
		}
	}
	n := base64.StdEncoding.DecodedLen(len(clean))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	m, err := base64.StdEncoding.Decode(dst, clean)
	if err != nil {
		return dst[:0], err
	}
	return dst[:m], nil
}

// isSpaceASCII is white space in the sense of ASCII: SP, HTAB, LF, VT,
// FF, CR.
func isSpaceASCII(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' }

// decodeDKIMQP decodes a dkim-quoted-printable value (RFC 6376 2.11):
// FWS is ignored and "=XX" stands for the octet XX.
func decodeDKIMQP(b []byte) (string, error) {
	if bytes.IndexByte(b, '=') < 0 {
		return noFWS(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case isFWS(c):
		case c == '=':
			if i+2 >= len(b) || unhex(b[i+1]) < 0 || unhex(b[i+2]) < 0 {
				return "", errors.New("bad quoted-printable escape")
			}
			out = append(out, byte(unhex(b[i+1])<<4|unhex(b[i+2])))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

// inDomain reports whether name is domain or a subdomain of it, in any
// letter case.
func inDomain(name, domain string) bool {
	if domain == "" {
		return false
	}
	if strings.EqualFold(name, domain) {
		return true
	}
	return len(name) > len(domain) && name[len(name)-len(domain)-1] == '.' &&
		strings.EqualFold(name[len(name)-len(domain):], domain)
}

// validKeyName reports whether name can be looked up: labels of 1 to 63
// octets, 253 in all, no white space or control characters.
func validKeyName(name string) bool {
	if len(name) == 0 || len(name) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c <= ' ' || c == 0x7f:
			return false
		default:
			label++
			if label > 63 {
				return false
			}
		}
	}
	return label > 0
}
