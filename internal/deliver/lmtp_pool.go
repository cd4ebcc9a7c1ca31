package deliver

import (
	"sync"
	"time"
)

// LMTPPool keeps idle LMTP connections for the next message to the same
// server (UNIX socket or host:port), as Postfix's LMTP connection cache
// does: a burst of messages to one mailbox store costs one connection
// and one LHLO. It is safe for concurrent use; a connection serves one
// delivery at a time, and deliveries that find no idle connection open
// their own, so the pool adds no limit of its own on deliveries at once.
type LMTPPool struct {
	// MaxMessages is how many messages a connection carries before it is
	// closed [100]; 1 means a new connection for every message.
	MaxMessages int
	// Idle is how long an idle connection is kept open [2s, as Postfix's
	// lmtp_connection_cache_time_limit].
	Idle time.Duration

	once  sync.Once
	cache *connCache[struct{}]
}

func (p *LMTPPool) init() {
	p.once.Do(func() {
		if p.MaxMessages <= 0 {
			p.MaxMessages = 100
		}
		if p.Idle <= 0 {
			p.Idle = 2 * time.Second
		}
		p.cache = newConnCache[struct{}](p.Idle)
	})
}

// Close ends the idle connections with QUIT; connections still in use
// are ended when their delivery is done.
func (p *LMTPPool) Close() {
	p.init()
	p.cache.closeAll()
}
