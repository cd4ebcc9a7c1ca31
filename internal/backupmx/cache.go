package backupmx

import (
	"strings"
	"sync"
	"time"

	"postern/internal/smtp"
)

// DefaultCacheSize bounds the answers a Cache keeps.
const DefaultCacheSize = 10000

// Cache keeps the primary's answers to callouts: accepted for Positive,
// refused for Negative, at most Size answers (the one closest to expiry
// goes first when it is full). It is safe for concurrent use.
//
// With Shared set the answers live in the fleet's backend instead, each
// expiring there with its TTL, and every node sharing it uses them; a
// backend that does not answer means no answer kept, so a callout.
type Cache struct {
	Positive time.Duration
	Negative time.Duration
	Size     int              // 0: DefaultCacheSize
	Now      func() time.Time // nil: time.Now; the memory's clock only
	Shared   KV               // nil: this process's memory

	mu sync.Mutex
	m  map[string]cached
}

// cached is one answer: nil reply for accepted.
type cached struct {
	reply   *smtp.Reply
	expires time.Time
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// cacheKey is the address with its domain in lower case; the local part
// keeps its case, as the primary may tell users apart by it.
func cacheKey(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	return addr[:at+1] + strings.ToLower(addr[at+1:])
}

// Get returns the answer kept for addr: found is false when there is
// none or it has expired; a nil reply means the primary accepted addr.
func (c *Cache) Get(addr string) (reply *smtp.Reply, found bool) {
	reply, found, _ = c.Lookup(addr)
	return reply, found
}

// Lookup is Get with the shared backend's error, if it gave one.
func (c *Cache) Lookup(addr string) (reply *smtp.Reply, found bool, err error) {
	if c == nil {
		return nil, false, nil
	}
	if c.Shared != nil {
		return c.getShared(addr)
	}
	reply, found = c.get(addr)
	return reply, found, nil
}

// get is Get from this process's memory.
func (c *Cache) get(addr string) (reply *smtp.Reply, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[cacheKey(addr)]
	if !ok {
		return nil, false
	}
	if !c.now().Before(e.expires) {
		delete(c.m, cacheKey(addr))
		return nil, false
	}
	return e.reply, true
}

// Put keeps the primary's answer for addr: nil for accepted, its 5xx
// reply for refused. Anything else (a 4xx) is not an answer and is not
// kept.
func (c *Cache) Put(addr string, reply *smtp.Reply) {
	c.Store(addr, reply)
}

// Store is Put with the shared backend's error, if it gave one.
func (c *Cache) Store(addr string, reply *smtp.Reply) error {
	if c == nil {
		return nil
	}
	ttl := c.Positive
	if reply != nil {
		if !reply.Permanent() {
			return nil
		}
		ttl = c.Negative
	}
	if ttl <= 0 {
		return nil
	}
	if c.Shared != nil {
		return c.putShared(addr, reply, ttl)
	}
	c.put(addr, reply, ttl)
	return nil
}

// put is Put into this process's memory.
func (c *Cache) put(addr string, reply *smtp.Reply, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cached{}
	}
	now := c.now()
	size := c.Size
	if size <= 0 {
		size = DefaultCacheSize
	}
	if _, ok := c.m[cacheKey(addr)]; !ok && len(c.m) >= size {
		c.evict(now, size)
	}
	c.m[cacheKey(addr)] = cached{reply: reply, expires: now.Add(ttl)}
}

// evict drops the expired answers, or when none has expired the one
// that expires first.
func (c *Cache) evict(now time.Time, size int) {
	first, firstKey := time.Time{}, ""
	for k, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, k)
			continue
		}
		if firstKey == "" || e.expires.Before(first) {
			first, firstKey = e.expires, k
		}
	}
	if len(c.m) >= size {
		delete(c.m, firstKey)
	}
}

// Len is the number of answers kept, expired ones included.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
