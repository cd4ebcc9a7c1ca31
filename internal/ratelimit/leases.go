package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Leases keeps track of the concurrency slots this node holds and renews
// them while they are held, so that a slot outlives its connection only
// when the node dies (then it expires after TTL).
type Leases struct {
	b   Backend
	ttl time.Duration
	log *slog.Logger

	mu   sync.Mutex
	held map[Lease]struct{}
}

// DefaultLeaseTTL is how long a dead node's slots stay taken.
const DefaultLeaseTTL = 2 * time.Minute

// NewLeases tracks the slots taken through it; ttl 0 means
// DefaultLeaseTTL.
func NewLeases(b Backend, ttl time.Duration, log *slog.Logger) *Leases {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Leases{b: b, ttl: ttl, log: log, held: map[Lease]struct{}{}}
}

// Acquire takes a slot (see Backend.Acquire) and remembers it for renewal.
func (l *Leases) Acquire(ctx context.Context, key, holder string, limit int64) (Result, error) {
	r, err := l.b.Acquire(ctx, key, holder, limit, l.ttl)
	if err == nil && r.Allowed {
		l.mu.Lock()
		l.held[Lease{key, holder}] = struct{}{}
		l.mu.Unlock()
	}
	return r, err
}

// Release gives the slot back.
func (l *Leases) Release(ctx context.Context, key, holder string) error {
	lease := Lease{key, holder}
	l.mu.Lock()
	delete(l.held, lease)
	l.mu.Unlock()
	return l.b.Release(ctx, lease)
}

// Held returns the number of slots held by this node.
func (l *Leases) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// RenewAll extends every slot held.
func (l *Leases) RenewAll(ctx context.Context) error {
	l.mu.Lock()
	list := make([]Lease, 0, len(l.held))
	for k := range l.held {
		list = append(list, k)
	}
	l.mu.Unlock()
	if len(list) == 0 {
		return nil
	}
	return l.b.Renew(ctx, list, l.ttl)
}

// Run renews the slots every third of the TTL until ctx ends.
func (l *Leases) Run(ctx context.Context) {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
			if err := l.RenewAll(rctx); err != nil {
				l.log.Warn("ratelimit lease renewal failed", "err", err, "leases", l.Held())
			}
			cancel()
		}
	}
}
