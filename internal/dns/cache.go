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
// Answers and "does not exist" are kept for TTL; temporary failures are
// never kept, so a SERVFAIL is asked again at once.
type Cache struct {
	r   Resolver
	ttl time.Duration
	max int

	mu       sync.Mutex
	entries  map[cacheKey]*cacheEntry
	inflight map[cacheKey]*call
}

// CacheOptions tune a Cache; zero values mean the defaults.
type CacheOptions struct {
	// TTL is how long an answer is kept. The real records' TTLs are not
	// visible through the resolver, so this is a cap short enough to be
	// below any sane record TTL. 0 means 30s.
	TTL time.Duration
	// MaxEntries bounds memory; 0 means 20000. When full, expired
	// entries are dropped first, then everything.
	MaxEntries int
}

type cacheKey struct {
	kind byte // 't' TXT, 'm' MX, 'i' IPAddr, 'h' Host, 'a' Addr
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

// NewCache wraps r.
func NewCache(r Resolver, opt CacheOptions) *Cache {
	if opt.TTL <= 0 {
		opt.TTL = 30 * time.Second
	}
	if opt.MaxEntries <= 0 {
		opt.MaxEntries = 20000
	}
	return &Cache{r: r, ttl: opt.TTL, max: opt.MaxEntries,
		entries: map[cacheKey]*cacheEntry{}, inflight: map[cacheKey]*call{}}
}

// NewCached is New wrapped in a Cache with default options.
func NewCached(opt Options) *Cache {
	return NewCache(New(opt), CacheOptions{})
}

func (c *Cache) do(ctx context.Context, k cacheKey, fn func() (any, error)) (any, error) {
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

	cl.val, cl.err = fn()

	c.mu.Lock()
	delete(c.inflight, k)
	if cl.err == nil || IsNotFound(cl.err) {
		if len(c.entries) >= c.max {
			c.evict(now)
		}
		c.entries[k] = &cacheEntry{val: cl.val, err: cl.err, expires: now.Add(c.ttl)}
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
	v, err := c.do(ctx, cacheKey{'t', name}, func() (any, error) { return c.r.LookupTXT(ctx, name) })
	txt, _ := v.([]string)
	return txt, err
}

// LookupMX implements Resolver.
func (c *Cache) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	v, err := c.do(ctx, cacheKey{'m', name}, func() (any, error) { return c.r.LookupMX(ctx, name) })
	mx, _ := v.([]*net.MX)
	// Callers may reorder (RFC 5321 5.1 randomisation): give a copy.
	return append([]*net.MX(nil), mx...), err
}

// LookupIPAddr implements Resolver.
func (c *Cache) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	v, err := c.do(ctx, cacheKey{'i', host}, func() (any, error) { return c.r.LookupIPAddr(ctx, host) })
	ips, _ := v.([]net.IPAddr)
	return append([]net.IPAddr(nil), ips...), err
}

// LookupHost implements Resolver.
func (c *Cache) LookupHost(ctx context.Context, host string) ([]string, error) {
	v, err := c.do(ctx, cacheKey{'h', host}, func() (any, error) { return c.r.LookupHost(ctx, host) })
	hs, _ := v.([]string)
	return append([]string(nil), hs...), err
}

// LookupAddr implements Resolver.
func (c *Cache) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	v, err := c.do(ctx, cacheKey{'a', addr}, func() (any, error) { return c.r.LookupAddr(ctx, addr) })
	ns, _ := v.([]string)
	return append([]string(nil), ns...), err
}
