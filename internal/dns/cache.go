package dns

import (
	"context"
	"net"
	"sync"
	"time"
)

// Cache is a Resolver that remembers answers for a short while, and lets
// concurrent identical questions share one query. A server checking SPF,
// DMARC and block lists asks the same names again and again within
// seconds; DNS answers live for minutes.
//
// When the wrapped resolver is a TTLResolver (the *Client of New), an
// answer is kept as long as its records' TTL allows and "does not exist"
// for the negative TTL of RFC 2308, both at most CacheOptions.TTL. Other
// resolvers (*net.Resolver) hide TTLs: their answers are kept for
// CacheOptions.TTL. Temporary failures are never kept, so a SERVFAIL is
// asked again at once.
type Cache struct {
	r   Resolver
	tr  TTLResolver // r, when it tells TTLs
	ttl time.Duration
	max int

	mu       sync.Mutex
	entries  map[cacheKey]*cacheEntry
	inflight map[cacheKey]*call
}

// CacheOptions tune a Cache; zero values mean the defaults.
type CacheOptions struct {
	// TTL caps how long an answer is kept: the records' own TTL (for
	// "does not exist", the SOA's negative TTL) when the resolver tells
	// it, never longer than this. For a resolver that does not tell
	// TTLs, every answer is kept this long. 0 means 30s: short enough
	// that a changed record is seen soon, long enough that a burst of
	// mail from one domain costs one lookup.
	TTL time.Duration
	// MaxEntries bounds memory; 0 means 20000. When full, expired
	// entries are dropped first, then everything.
	MaxEntries int
}

type cacheKey struct {
	kind byte // 't' TXT, 'm' MX, 'i' IPAddr, 'h' Host, 'a' Addr; DNSSEC: 'M' MX, 'I' IPAddr, 'T' TLSA
	name string
}

type cacheEntry struct {
	val     any
	err     error
	expires time.Time
}

type call struct {
	done chan struct{}
	val  any
	err  error
}

// noTTL is the TTL of an answer whose resolver does not tell it: kept
// for the cap.
const noTTL = time.Duration(-1)

// NewCache wraps r.
func NewCache(r Resolver, opt CacheOptions) *Cache {
	if opt.TTL <= 0 {
		opt.TTL = 30 * time.Second
	}
	if opt.MaxEntries <= 0 {
		opt.MaxEntries = 20000
	}
	c := &Cache{r: r, ttl: opt.TTL, max: opt.MaxEntries,
		entries: map[cacheKey]*cacheEntry{}, inflight: map[cacheKey]*call{}}
	c.tr, _ = r.(TTLResolver)
	return c
}

// NewCached is New wrapped in a Cache with default options.
func NewCached(opt Options) *Cache {
	return NewCache(New(opt), CacheOptions{})
}

func (c *Cache) do(ctx context.Context, k cacheKey, fn func() (any, time.Duration, error)) (any, error) {
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.entries[k]; ok {
		if now.Before(e.expires) {
			c.mu.Unlock()
			return e.val, e.err
		}
		delete(c.entries, k)
	}
	if cl, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.val, cl.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[k] = cl
	c.mu.Unlock()

	var ttl time.Duration
	cl.val, ttl, cl.err = fn()
	if ttl < 0 || ttl > c.ttl {
		ttl = c.ttl
	}

	c.mu.Lock()
	delete(c.inflight, k)
	// Temporary failures are not kept; nor is what has a TTL of zero.
	if (cl.err == nil || IsNotFound(cl.err)) && ttl > 0 {
		if len(c.entries) >= c.max {
			c.evict(now)
		}
		c.entries[k] = &cacheEntry{val: cl.val, err: cl.err, expires: now.Add(ttl)}
	}
	c.mu.Unlock()
	close(cl.done)
	return cl.val, cl.err
}

// evict drops expired entries, or all of them when none has expired.
func (c *Cache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= c.max {
		c.entries = map[cacheKey]*cacheEntry{}
	}
}

// LookupTXT implements Resolver.
func (c *Cache) LookupTXT(ctx context.Context, name string) ([]string, error) {
	v, err := c.do(ctx, cacheKey{'t', name}, func() (any, time.Duration, error) {
		if c.tr != nil {
			return c.tr.LookupTXTWithTTL(ctx, name)
		}
		v, err := c.r.LookupTXT(ctx, name)
		return v, noTTL, err
	})
	txt, _ := v.([]string)
	return append([]string(nil), txt...), err
}

// LookupMX implements Resolver.
func (c *Cache) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	v, err := c.do(ctx, cacheKey{'m', name}, func() (any, time.Duration, error) {
		if c.tr != nil {
			return c.tr.LookupMXWithTTL(ctx, name)
		}
		v, err := c.r.LookupMX(ctx, name)
		return v, noTTL, err
	})
	mx, _ := v.([]*net.MX)
	// Callers may reorder (RFC 5321 5.1 randomisation): give a copy.
	out := make([]*net.MX, len(mx))
	for i, m := range mx {
		cp := *m
		out[i] = &cp
	}
	return out, err
}

// LookupIPAddr implements Resolver.
func (c *Cache) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	v, err := c.do(ctx, cacheKey{'i', host}, func() (any, time.Duration, error) {
		if c.tr != nil {
			return c.tr.LookupIPAddrWithTTL(ctx, host)
		}
		v, err := c.r.LookupIPAddr(ctx, host)
		return v, noTTL, err
	})
	ips, _ := v.([]net.IPAddr)
	return append([]net.IPAddr(nil), ips...), err
}

// LookupHost implements Resolver.
func (c *Cache) LookupHost(ctx context.Context, host string) ([]string, error) {
	v, err := c.do(ctx, cacheKey{'h', host}, func() (any, time.Duration, error) {
		if c.tr != nil {
			return c.tr.LookupHostWithTTL(ctx, host)
		}
		v, err := c.r.LookupHost(ctx, host)
		return v, noTTL, err
	})
	hs, _ := v.([]string)
	return append([]string(nil), hs...), err
}

// LookupAddr implements Resolver.
func (c *Cache) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	v, err := c.do(ctx, cacheKey{'a', addr}, func() (any, time.Duration, error) {
		if c.tr != nil {
			return c.tr.LookupAddrWithTTL(ctx, addr)
		}
		v, err := c.r.LookupAddr(ctx, addr)
		return v, noTTL, err
	})
	ns, _ := v.([]string)
	return append([]string(nil), ns...), err
}
