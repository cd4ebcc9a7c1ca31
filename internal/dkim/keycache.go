package dkim

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
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

// parseKeyRecord reads a key record (ParseKeyRecord) into the form the
// verifier uses, or the verifier's error.
func parseKeyRecord(txt string) *pubKey {
	rec, err := ParseKeyRecord(txt)
	if errors.Is(err, ErrKeyTooShort) {
		// RFC 8301 3.2: keys under 1024 bits are refused by policy.
		return &pubKey{err: &verifyError{Policy, "RSA key under 1024 bits", err.Error()}}
	}
	if err != nil {
		return &pubKey{err: permFail(err.Error())}
	}
	return &pubKey{algo: rec.Algo, rsa: rec.RSA, ed: rec.Ed25519, hashes: rec.Hashes,
		email: rec.Email, testing: rec.Testing, strict: rec.Strict}
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
