package mailauth

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	pdns "postern/internal/dns"
)

// DefaultTXTCacheAge is how long TXT answers are reused by default:
// shorter than nearly every TTL that SPF, DKIM and DMARC records carry,
// long enough that a burst of mail from one domain costs one lookup of
// each record.
const DefaultTXTCacheAge = 30 * time.Second

// maxCachedNames bounds the cache; when full it starts over.
const maxCachedNames = 10000

// TXTCache is a resolver that keeps TXT answers (records, or "does not
// exist") for a short while; temporary failures are not kept. The SPF,
// DKIM and DMARC records of a sending domain are looked up for every
// message it sends; without a cache each costs a round trip to the DNS
// server. Other lookups go to the resolver underneath. It is safe for
// concurrent use.
type TXTCache struct {
	pdns.Resolver
	maxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]txtEntry
}

type txtEntry struct {
	at   time.Time
	txts []string
	err  error // a not-found error, or nil
}

// NewTXTCache wraps r; maxAge 0 means DefaultTXTCacheAge.
func NewTXTCache(r pdns.Resolver, maxAge time.Duration) *TXTCache {
	if maxAge <= 0 {
		maxAge = DefaultTXTCacheAge
	}
	return &TXTCache{Resolver: r, maxAge: maxAge, now: time.Now, entries: map[string]txtEntry{}}
}

// LookupTXT answers from the cache when it can.
func (c *TXTCache) LookupTXT(ctx context.Context, name string) ([]string, error) {
	key := strings.ToLower(strings.TrimSuffix(name, "."))
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.maxAge && !now.Before(e.at) {
		return append([]string(nil), e.txts...), copyErr(e.err)
	}
	txts, err := c.Resolver.LookupTXT(ctx, name)
	if err == nil || pdns.IsNotFound(err) {
		c.mu.Lock()
		if len(c.entries) >= maxCachedNames {
			c.entries = map[string]txtEntry{}
		}
		c.entries[key] = txtEntry{at: now, txts: append([]string(nil), txts...), err: err}
		c.mu.Unlock()
	}
	return txts, err
}

// copyErr gives each caller its own *net.DNSError, which callers may
// change.
func copyErr(err error) error {
	if de, ok := err.(*net.DNSError); ok {
		d := *de
		return &d
	}
	return err
}
