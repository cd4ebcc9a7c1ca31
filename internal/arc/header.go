// Package arc is the Authenticated Received Chain (RFC 8617): the one
// parser of its three header fields (ARC-Seal, ARC-Message-Signature,
// ARC-Authentication-Results), chain validation with its result
// (cv=none, pass or fail, and the oldest AMS that still verifies), the
// local-policy decision that lets a trusted sealer's chain override a
// DMARC failure, and sealing (adding our own ARC set). Canonicalization,
// tag-lists, keys and signatures are DKIM's (internal/dkim), as RFC
// 8617 4.1.2 and 4.1.3 define them.
package arc

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"postern/internal/dkim"
)

// The header field names (RFC 8617 4.1).
const (
	SealField      = "ARC-Seal"
	SignatureField = "ARC-Message-Signature"
	AARField       = "ARC-Authentication-Results"
)

// MaxInstance is the highest instance (RFC 8617 4.2.1: 1 to 50).
const MaxInstance = 50

// The chain validation statuses (RFC 8617 4.4).
const (
	None = "none"
	Pass = "pass"
	Fail = "fail"
)

// AS is a parsed ARC-Seal (RFC 8617 4.1.3).
type AS struct {
	Instance         int
	Algorithm        string // a=: rsa-sha256 (or ed25519-sha256, RFC 8463's algorithm)
	CV               string // cv=: none, pass or fail
	Domain, Selector string // d=, s=
	Time             int64  // t=, -1 when absent
	Sig              []byte // b=, decoded
	// BStart and BEnd delimit the raw b= value in the parsed text.
	BStart, BEnd int
}

// AMS is a parsed ARC-Message-Signature (RFC 8617 4.1.2): a DKIM
// signature with i= as its instance and no v=.
type AMS struct {
	Instance         int
	Algorithm        string
	Domain, Selector string
	HeaderRelaxed    bool // c= header part
	BodyRelaxed      bool // c= body part
	Headers          []byte
	BodyHash, Sig    []byte
	Time             int64
	BStart, BEnd     int
}

// AAR is a parsed ARC-Authentication-Results (RFC 8617 4.1.1): the
// instance, then an Authentication-Results value (RFC 8601 2.2).
type AAR struct {
	Instance   int
	AuthServID string
	Results    []string // each resinfo as written, FWS made single spaces
}

// errSyntax wraps every parse error.
var errSyntax = errors.New("arc: malformed header field")

func syntaxf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errSyntax}, a...)...)
}

// tags parses a tag-list strictly: DKIM's tag-list (RFC 6376 3.2), and
// its ABNF to the letter: every tag-name is ALPHA *ALNUMPUNC, and only
// the last tag-spec may be empty (a final ";").
func tags(v []byte) (map[string]dkim.Tag, error) {
	list, err := dkim.ParseTags(v)
	if err != nil {
		return nil, syntaxf("%v", err)
	}
	prev := 0
	for i, t := range list {
		if !tagName(t.Name) {
			return nil, syntaxf("invalid tag name %q", t.Name)
		}
		// Between two tags, or before the first, one ";" at most.
		if n := bytes.Count(v[prev:t.Start], []byte(";")); n > 1 || i == 0 && n > 0 {
			return nil, syntaxf("empty tag-spec")
		}
		prev = t.End
	}
	if bytes.Count(v[prev:], []byte(";")) > 1 || len(list) == 0 {
		return nil, syntaxf("empty tag-spec")
	}
	m := make(map[string]dkim.Tag, len(list))
	for _, t := range list {
		m[string(t.Name)] = t
	}
	return m, nil
}

// tagName: RFC 6376 3.2, tag-name = ALPHA *ALNUMPUNC.
func tagName(b []byte) bool {
	if len(b) == 0 || !isAlpha(b[0]) {
		return false
	}
	for _, c := range b[1:] {
		if !isAlpha(c) && !('0' <= c && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'A' <= c&^0x20 && c&^0x20 <= 'Z' }

// instance reads i=: RFC 8617 4.2.1, an integer from 1 to 50.
func instance(v []byte) (int, error) {
	if len(v) == 0 || len(v) > 2 {
		return 0, syntaxf("instance %q is not 1 to %d", v, MaxInstance)
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, syntaxf("instance %q is not a number", v)
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > MaxInstance {
		return 0, syntaxf("instance %d is not 1 to %d", n, MaxInstance)
	}
	return n, nil
}

// common reads the tags the seal and the signature share: i=, a=, d=,
// s=, t= and b=.
type common struct {
	instance         int
	algorithm        string
	domain, selector string
	time             int64
	sig              []byte
	bStart, bEnd     int
}

func readCommon(m map[string]dkim.Tag) (common, error) {
	var c common
	for _, name := range [...]string{"i", "a", "b", "d", "s"} {
		if _, ok := m[name]; !ok {
			return c, syntaxf("%s= missing", name)
		}
	}
	var err error
	if c.instance, err = instance(m["i"].Value); err != nil {
		return c, err
	}
	c.algorithm = string(m["a"].Value)
	// RFC 8617 4.1.2 and 4.1.3: rsa-sha256 (RFC 8301 3.1: never rsa-sha1);
	// ed25519-sha256 (RFC 8463) accepted as DKIM accepts it.
	if c.algorithm != "rsa-sha256" && c.algorithm != "ed25519-sha256" {
		return c, syntaxf("unsupported algorithm %q", c.algorithm)
	}
	c.domain = strings.ToLower(strings.TrimSuffix(string(m["d"].Value), "."))
	if !dkim.ValidDomain(c.domain) {
		return c, syntaxf("d= %q is not a domain name", m["d"].Value)
	}
	c.selector = string(m["s"].Value)
	if c.selector == "" || bytes.ContainsAny(m["s"].Value, " \t\r\n;") {
		return c, syntaxf("s= %q is not a selector", m["s"].Value)
	}
	c.time = -1
	if t, ok := m["t"]; ok {
		if c.time, err = timestamp(t.Value); err != nil {
			return c, err
		}
	}
	b := m["b"]
	if c.sig, err = dkim.DecodeBase64(b.Value); err != nil || len(c.sig) == 0 {
		return c, syntaxf("b= is not a signature")
	}
	c.bStart, c.bEnd = b.Start, b.End
	return c, nil
}

// timestamp reads t=: RFC 6376 3.5, 1*12DIGIT.
func timestamp(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 12 {
		return 0, syntaxf("t= %q is not a timestamp", v)
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, syntaxf("t= %q is not a timestamp", v)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// ParseAS parses the value of an ARC-Seal field (after the colon).
func ParseAS(v []byte) (*AS, error) {
	m, err := tags(v)
	if err != nil {
		return nil, err
	}
	c, err := readCommon(m)
	if err != nil {
		return nil, err
	}
	if _, ok := m["h"]; ok {
		// RFC 8617 4.1.3: h= is not allowed and MUST make cv fail.
		return nil, syntaxf("h= in an ARC-Seal")
	}
	cv, ok := m["cv"]
	if !ok {
		return nil, syntaxf("cv= missing")
	}
	s := &AS{Instance: c.instance, Algorithm: c.algorithm, CV: string(cv.Value), Domain: c.domain,
		Selector: c.selector, Time: c.time, Sig: c.sig, BStart: c.bStart, BEnd: c.bEnd}
	if s.CV != None && s.CV != Pass && s.CV != Fail {
		return nil, syntaxf("cv= %q is not none, pass or fail", cv.Value)
	}
	return s, nil
}

// ParseAMS parses the value of an ARC-Message-Signature field.
func ParseAMS(v []byte) (*AMS, error) {
	m, err := tags(v)
	if err != nil {
		return nil, err
	}
	c, err := readCommon(m)
	if err != nil {
		return nil, err
	}
	s := &AMS{Instance: c.instance, Algorithm: c.algorithm, Domain: c.domain, Selector: c.selector,
		Time: c.time, Sig: c.sig, BStart: c.bStart, BEnd: c.bEnd}
	h, ok := m["h"]
	if !ok {
		return nil, syntaxf("h= missing")
	}
	s.Headers = h.Value
	for _, name := range bytes.Split(h.Value, []byte(":")) {
		if bytes.EqualFold(bytes.Trim(name, " \t\r\n"), []byte(SealField)) {
			// RFC 8617 4.1.2: ARC-Seal fields must not be signed.
			return nil, syntaxf("h= names ARC-Seal")
		}
	}
	bh, ok := m["bh"]
	if !ok {
		return nil, syntaxf("bh= missing")
	}
	if s.BodyHash, err = dkim.DecodeBase64(bh.Value); err != nil || len(s.BodyHash) == 0 {
		return nil, syntaxf("bh= is not a hash")
	}
	if cv, ok := m["c"]; ok {
		// RFC 6376 3.5: c= absent means simple/simple; present, it names one.
		hr, br, ok := dkim.ParseCanon(string(cv.Value))
		if !ok || len(cv.Value) == 0 {
			return nil, syntaxf("c= %q is not a canonicalization", cv.Value)
		}
		s.HeaderRelaxed, s.BodyRelaxed = hr, br
	}
	return s, nil
}

// ParseAAR parses the value of an ARC-Authentication-Results field:
// RFC 8617 4.1.1, "i=" instance ";" then an Authentication-Results value.
func ParseAAR(v []byte) (*AAR, error) {
	s := strings.TrimLeft(string(v), " \t\r\n")
	if !strings.HasPrefix(s, "i") {
		return nil, syntaxf("AAR does not start with i=")
	}
	s = strings.TrimLeft(s[1:], " \t\r\n")
	if !strings.HasPrefix(s, "=") {
		return nil, syntaxf("AAR does not start with i=")
	}
	num, rest, ok := strings.Cut(s[1:], ";")
	if !ok {
		return nil, syntaxf("no \";\" after the AAR instance")
	}
	n, err := instance([]byte(strings.Trim(num, " \t\r\n")))
	if err != nil {
		return nil, err
	}
	results := splitResults(rest)
	if len(results) == 0 || results[0] == "" || strings.ContainsAny(results[0], "=") {
		return nil, syntaxf("AAR without an authserv-id")
	}
	id, _, _ := strings.Cut(results[0], " ")
	return &AAR{Instance: n, AuthServID: strings.ToLower(id), Results: results[1:]}, nil
}
