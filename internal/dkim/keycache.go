package dkim

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	pdns "postern/internal/dns"
)

// DefaultKeyCache is how many parsed key records a Verifier keeps when
// VerifyOptions.KeyCache is 0.
const DefaultKeyCache = 1024

// maxCachedRecord is the longest key record kept parsed (an RSA-16384
// key record is under 3 KB); longer ones are parsed every time.
const maxCachedRecord = 4096

// pubKey is a parsed key record (RFC 6376 3.6.1), or why it is unusable.
type pubKey struct {
	algo    string // k=: "rsa" or "ed25519"
	rsa     *rsa.PublicKey
	ed      ed25519.PublicKey
	hashes  []string // h=; nil means any
	email   bool     // s= includes "email" or "*", or is absent
	testing bool     // t=y
	strict  bool     // t=s
	err     *verifyError
}

// keyCache keeps parsed key records by their exact text, so that a
// changed record is parsed again. The DNS answer itself is asked of the
// resolver every time (postern's resolver caches answers for their TTL).
type keyCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*pubKey
}

func newKeyCache(max int) *keyCache {
	if max <= 0 {
		max = DefaultKeyCache
	}
	return &keyCache{max: max, m: make(map[string]*pubKey)}
}

// get returns the parsed form of the key record txt.
func (c *keyCache) get(txt string) *pubKey {
	if len(txt) > maxCachedRecord {
		return parseKeyRecord(txt)
	}
	c.mu.Lock()
	k, ok := c.m[txt]
	c.mu.Unlock()
	if ok {
		return k
	}
	k = parseKeyRecord(txt)
	c.mu.Lock()
	if len(c.m) >= c.max {
		// Full: drop one entry, whichever the map yields first (its
		// iteration order is randomized).
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[txt] = k
	c.mu.Unlock()
	return k
}

// len reports how many records are kept.
func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// lookupKey fetches and parses the key record at name (RFC 6376 6.1.2).
func lookupKey(ctx context.Context, resolver pdns.Resolver, cache *keyCache, name string) (*pubKey, *verifyError) {
	if !validKeyName(name) {
		return nil, permFail("no key for signature: invalid key name " + fmt.Sprintf("%q", name))
	}
	txts, err := resolver.LookupTXT(ctx, name)
	if err != nil {
		// RFC 6376 6.1.2: a temporary DNS failure is TEMPFAIL, no
		// record PERMFAIL.
		var ne net.Error
		if errors.As(err, &ne) && (ne.Timeout() || ne.Temporary()) {
			return nil, &verifyError{TempError, "key lookup failed", "key unavailable: " + err.Error()}
		}
		return nil, permFail("no key for signature: " + err.Error())
	}
	switch len(txts) {
	case 0:
		return nil, permFail("no valid key found")
	case 1:
	default:
		// RFC 6376 3.6.2.2: several records give undefined results.
		return nil, permFail("multiple TXT records found for key")
	}
	k := cache.get(txts[0])
	if k.err != nil {
		return nil, k.err
	}
	return k, nil
}

// parseKeyRecord reads a key record (RFC 6376 3.6.1; Ed25519 keys RFC
// 8463 4.2).
func parseKeyRecord(txt string) *pubKey {
	bad := func(e *verifyError) *pubKey { return &pubKey{err: e} }
	tags, err := parseTagList([]byte(txt), nil)
	if err != nil {
		return bad(permFail("key record error: " + err.Error()))
	}
	get := func(name string) (string, bool) {
		t, ok := lookupTag(tags, name)
		return string(t.value), ok
	}
	if v, ok := get("v"); ok {
		// RFC 6376 3.6.1: v= is DKIM1, and when present the first tag.
		if v != "DKIM1" {
			return bad(permFail("incompatible public key version"))
		}
		if string(tags[0].name) != "v" {
			return bad(permFail("key record: v= is not the first tag"))
		}
	}
	p, ok := lookupTag(tags, "p")
	if !ok {
		return bad(permFail("key syntax error: missing public key data"))
	}
	if len(p.value) == 0 {
		// RFC 6376 3.6.1: an empty p= means the key was revoked.
		return bad(permFail("key revoked"))
	}
	raw, err := base64.StdEncoding.DecodeString(noFWS(p.value))
	if err != nil {
		return bad(permFail("key syntax error: " + err.Error()))
	}
	k := &pubKey{email: true}
	kt, _ := get("k")
	switch kt {
	case "rsa", "":
		// RFC 6376 3.6.1 says RSAPublicKey in one place and
		// SubjectPublicKeyInfo in another; erratum 3017 accepts both.
		pub, err := x509.ParsePKIXPublicKey(raw)
		if err != nil {
			pub, err = x509.ParsePKCS1PublicKey(raw)
			if err != nil {
				return bad(permFail("key syntax error: " + err.Error()))
			}
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return bad(permFail("key syntax error: not an RSA public key"))
		}
		if rk.N.BitLen() < 1024 {
			// RFC 8301 3.2: keys under 1024 bits must not be accepted.
			return bad(&verifyError{Policy, "RSA key under 1024 bits",
				fmt.Sprintf("key is too short: want 1024 bits, has %d bits", rk.N.BitLen())})
		}
		k.algo, k.rsa = AlgoRSA, rk
	case "ed25519":
		// RFC 8463 4.2: the raw 32-octet public key.
		if len(raw) != ed25519.PublicKeySize {
			return bad(permFail(fmt.Sprintf("invalid Ed25519 public key size: %d bytes", len(raw))))
		}
		k.algo, k.ed = AlgoEd25519, ed25519.PublicKey(raw)
	default:
		return bad(permFail("unsupported key algorithm"))
	}
	if h, ok := lookupTag(tags, "h"); ok {
		k.hashes = splitList(h.value)
	}
	if s, ok := lookupTag(tags, "s"); ok {
		svc := splitList(s.value)
		k.email = listHas(svc, "email") || listHas(svc, "*")
	}
	if t, ok := lookupTag(tags, "t"); ok {
		flags := splitList(t.value)
		k.testing = listHas(flags, "y")
		k.strict = listHas(flags, "s")
	}
	return k
}

// splitList splits a colon-separated tag value into its items.
func splitList(v []byte) []string {
	var out []string
	for rest := v; rest != nil; {
		var item []byte
		item, rest = nextListItem(rest)
		out = append(out, noFWS(item))
	}
	return out
}

// verifyError is why a signature did not pass: the RFC 8601 result, the
// short reason for the header, and the detail for the log.
type verifyError struct {
	result, reason, msg string
}

func (e *verifyError) Error() string { return "dkim: " + e.msg }

func permFail(msg string) *verifyError {
	return &verifyError{PermError, "unusable signature or key", msg}
}

func sigFail(msg string) *verifyError {
	return &verifyError{Fail, "signature does not verify", msg}
}

// checkStrict applies the key's t=s flag (RFC 6376 3.6.1): the domain of
// the i= identity must then be exactly d=.
func checkStrict(k *pubKey, domain, auid string) *verifyError {
	if !k.strict {
		return nil
	}
	idDomain := auid[strings.LastIndexByte(auid, '@')+1:]
	if !strings.EqualFold(idDomain, domain) {
		return &verifyError{PermError, "key does not allow this identity",
			fmt.Sprintf("key has t=s but i= domain %q is not d= %q", idDomain, domain)}
	}
	return nil
}
