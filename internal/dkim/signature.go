package dkim

import (
	"bytes"
	"errors"
	"strings"
	"time"
)

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
// tag-list, then the rules of preKeyChecks. s.res.Err is set when one
// fails.
func parseSignature(s *sigCheck, f []byte, valueStart int, tags []tag, now time.Time) []tag {
	tags, err := parseTagList(f[valueStart:], tags[:0])
	for i := range tags {
		tags[i].start += valueStart
		tags[i].end += valueStart
	}
	s.readIdentity(tags)
	if err != nil {
		// RFC 6376 3.2: an invalid tag-list makes the signature invalid.
		s.res.Err = permFail(err.Error())
		return tags
	}
	for _, check := range preKeyChecks {
		if e := check(s, tags, now); e != nil {
			s.res.Err = e
			return tags
		}
	}
	s.keyName = s.res.Selector + "._domainkey." + s.res.Domain
	s.readForKey(tags)
	return tags
}

// tagValue returns the value of the tag named name.
func tagValue(tags []tag, name string) ([]byte, bool) {
	t, ok := lookupTag(tags, name)
	return t.value, ok
}

// readIdentity reads, for the Authentication-Results clause, whatever
// could be read of d=, s=, a=, b= and i=, and where b= lies.
func (s *sigCheck) readIdentity(tags []tag) {
	d, _ := tagValue(tags, "d")
	sel, _ := tagValue(tags, "s")
	a, _ := tagValue(tags, "a")
	b, _ := tagValue(tags, "b")
	s.res.Domain = noFWS(d)
	s.res.Selector = noFWS(sel)
	s.res.Algorithm = noFWS(a)
	s.res.B = noFWS(b)
	if i, ok := tagValue(tags, "i"); ok {
		s.res.AUID = noFWS(i)
	} else if s.res.Domain != "" {
		s.res.AUID = "@" + s.res.Domain
	}
	if bt, ok := lookupTag(tags, "b"); ok {
		s.bStart, s.bEnd = bt.start, bt.end
	} else {
		s.bStart, s.bEnd = -1, -1
	}
}

// preKeyChecks are the checks of RFC 6376 6.1.1 made before the key is
// looked up, in the order the result is decided.
var preKeyChecks = [...]func(s *sigCheck, tags []tag, now time.Time) *verifyError{
	checkSigVersion, checkRequiredTags, checkAUID, checkFromSigned, checkTimes, checkQueryMethod,
}

// checkSigVersion: RFC 6376 3.5, v=1 is required, and is the only version.
func checkSigVersion(_ *sigCheck, tags []tag, _ time.Time) *verifyError {
	if v, _ := tagValue(tags, "v"); string(v) != "1" {
		return permFail("incompatible signature version")
	}
	return nil
}

// checkRequiredTags: RFC 6376 6.1.1, a signature missing a required tag
// is invalid.
func checkRequiredTags(_ *sigCheck, tags []tag, _ time.Time) *verifyError {
	for _, name := range requiredSigTags {
		if _, ok := lookupTag(tags, name); !ok {
			return permFail("signature missing required tag " + name + "=")
		}
	}
	return nil
}

// checkAUID decodes i= into s.res.AUID; RFC 6376 3.5: its domain must be
// d= or a subdomain of it.
func checkAUID(s *sigCheck, tags []tag, _ time.Time) *verifyError {
	i, ok := tagValue(tags, "i")
	if !ok {
		return nil
	}
	auid, err := decodeDKIMQP(i)
	if err != nil {
		return permFail("malformed i=: " + err.Error())
	}
	s.res.AUID = auid
	at := strings.LastIndexByte(auid, '@')
	if at < 0 || !inDomain(auid[at+1:], s.res.Domain) {
		return permFail("i= is not in the domain of d=")
	}
	return nil
}

// checkFromSigned keeps h= in s; RFC 6376 5.4: the From field must be
// signed.
func checkFromSigned(s *sigCheck, tags []tag, _ time.Time) *verifyError {
	h, _ := tagValue(tags, "h")
	s.headers = h
	var buf [64]byte
	for rest := h; rest != nil; {
		var name []byte
		name, rest = nextName(rest, buf[:0])
		if bytes.EqualFold(name, []byte("from")) {
			return nil
		}
	}
	return permFail("From field not signed")
}

// checkTimes reads t= and x=: RFC 6376 3.5, a signature past its x= is
// invalid, and x= must not be before t=.
func checkTimes(_ *sigCheck, tags []tag, now time.Time) *verifyError {
	var signed, expires int64
	var err error
	tv, hasT := tagValue(tags, "t")
	if hasT {
		if signed, err = parseTimestamp(tv); err != nil {
			return permFail("malformed t=")
		}
	}
	xv, ok := tagValue(tags, "x")
	if !ok {
		return nil
	}
	if expires, err = parseTimestamp(xv); err != nil {
		return permFail("malformed x=")
	}
	if now.After(time.Unix(expires, 0)) {
		return permFail("signature has expired")
	}
	if hasT && expires < signed {
		return permFail("x= is before t=")
	}
	return nil
}

// checkQueryMethod: RFC 6376 3.5, q= lists query methods; dns/txt is the
// only one.
func checkQueryMethod(_ *sigCheck, tags []tag, _ time.Time) *verifyError {
	q, ok := tagValue(tags, "q")
	if !ok {
		return nil
	}
	var buf [64]byte
	for rest := q; rest != nil; {
		var m []byte
		m, rest = nextName(rest, buf[:0])
		if string(m) == "dns/txt" {
			return nil
		}
	}
	return permFail("unsupported public key query method")
}

// readForKey reads what the checks made after the key lookup need (they
// come after it so that a failed lookup is reported first): a=, c=, l=,
// and bh= and b= decoded.
func (s *sigCheck) readForKey(tags []tag) {
	ka, ha, ok := strings.Cut(s.res.Algorithm, "-")
	s.keyAlgo, s.hashAlgo, s.algoOK = ka, ha, ok
	c, _ := tagValue(tags, "c")
	s.hdrCanon, s.bodyCanon, s.canonOK = parseCanon(noFWS(c))
	_, s.hasL = lookupTag(tags, "l")
	bh, _ := tagValue(tags, "bh")
	b, _ := tagValue(tags, "b")
	s.bh, s.bhErr = decodeBase64(s.bh[:0], bh)
	s.b, s.bErr = decodeBase64(s.b[:0], b)
	s.bodyOK = s.algoOK && s.hashAlgo == "sha256" && s.canonOK && !s.hasL && s.bhErr == nil && s.bErr == nil
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
