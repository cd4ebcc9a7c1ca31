package deliver

import (
	"sync"
	"time"

	"postern/internal/smtpclient"
)

// cachedConn is an idle connection kept for the next message to the same
// destination, with what the caller needs to know about it (for SMTP the
// server it reached; nothing for LMTP).
type cachedConn[T any] struct {
	c     *smtpclient.Client
	t     T
	timer *time.Timer
}

// connCache keeps idle SMTP or LMTP sessions by destination, each for at
// most ttl (Postfix's connection cache does the same: one session carries
// several messages, so a burst to one destination costs one handshake).
// A connection taken with get belongs to that one delivery until it is
// put back, so two deliveries never share one.
type connCache[T any] struct {
	ttl    time.Duration
	mu     sync.Mutex
	idle   map[string][]*cachedConn[T]
	closed bool // after closeAll: connections put back are ended at once
}

func newConnCache[T any](ttl time.Duration) *connCache[T] {
	return &connCache[T]{ttl: ttl, idle: map[string][]*cachedConn[T]{}}
}

// get takes an idle connection for key, or returns nil.
func (cc *connCache[T]) get(key string) *cachedConn[T] {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for {
		list := cc.idle[key]
		if len(list) == 0 {
			return nil
		}
		e := list[len(list)-1]
		cc.idle[key] = list[:len(list)-1]
		if len(cc.idle[key]) == 0 {
			delete(cc.idle, key)
		}
		if e.timer.Stop() && e.c.Usable() {
			return e
		}
	}
}

// put keeps a connection for later; it is closed with QUIT after ttl
// (at once when the cache was closed: the server is stopping).
func (cc *connCache[T]) put(key string, c *smtpclient.Client, t T) {
	e := &cachedConn[T]{c: c, t: t}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed {
		go c.Quit()
		return
	}
	e.timer = time.AfterFunc(cc.ttl, func() {
		cc.mu.Lock()
		list := cc.idle[key]
		for i, x := range list {
			if x == e {
				cc.idle[key] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(cc.idle[key]) == 0 {
			delete(cc.idle, key)
		}
		cc.mu.Unlock()
		e.c.Quit()
	})
	cc.idle[key] = append(cc.idle[key], e)
}

// closeAll ends every idle connection.
func (cc *connCache[T]) closeAll() {
	cc.mu.Lock()
	all := cc.idle
	cc.idle = map[string][]*cachedConn[T]{}
	cc.closed = true
	cc.mu.Unlock()
	for _, list := range all {
		for _, e := range list {
			if e.timer.Stop() {
				e.c.Quit()
			}
		}
	}
}
