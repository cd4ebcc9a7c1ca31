package deliver

import (
	"context"
	"sync"
	"time"

	"postern/internal/smtpclient"
)

// cachedConn is an idle connection kept for the next message to the same
// destination.
type cachedConn struct {
	c     *smtpclient.Client
	t     target
	timer *time.Timer
}

// connCache keeps idle SMTP sessions by destination, each for at most
// ttl (Postfix's connection cache does the same: one session carries
// several messages, so a burst to one domain costs one handshake).
type connCache struct {
	ttl  time.Duration
	mu   sync.Mutex
	idle map[string][]*cachedConn
}

func newConnCache(ttl time.Duration) *connCache {
	return &connCache{ttl: ttl, idle: map[string][]*cachedConn{}}
}

// get takes an idle connection for key, or returns nil.
func (cc *connCache) get(key string) *cachedConn {
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

// put keeps a connection for later; it is closed with QUIT after ttl.
func (cc *connCache) put(key string, c *smtpclient.Client, t target) {
	e := &cachedConn{c: c, t: t}
	cc.mu.Lock()
	defer cc.mu.Unlock()
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
func (cc *connCache) closeAll() {
	cc.mu.Lock()
	all := cc.idle
	cc.idle = map[string][]*cachedConn{}
	cc.mu.Unlock()
	for _, list := range all {
		for _, e := range list {
			if e.timer.Stop() {
				e.c.Quit()
			}
		}
	}
}

// destLimits bounds the deliveries under way to each destination.
type destLimits struct {
	n     int
	mu    sync.Mutex
	slots map[string]*destSlot
}

type destSlot struct {
	sem  chan struct{}
	refs int
}

func newDestLimits(n int) *destLimits {
	return &destLimits{n: n, slots: map[string]*destSlot{}}
}

// acquire waits for a free slot for key; release gives it back.
func (l *destLimits) acquire(ctx context.Context, key string) (release func(), err error) {
	l.mu.Lock()
	s := l.slots[key]
	if s == nil {
		s = &destSlot{sem: make(chan struct{}, l.n)}
		l.slots[key] = s
	}
	s.refs++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		s.refs--
		if s.refs == 0 {
			delete(l.slots, key)
		}
		l.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
