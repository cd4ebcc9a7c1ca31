package ratelimit

import (
	"context"
	"testing"
	"time"
)

// Slots held through Leases outlive their TTL while Run renews them, and
// expire once it stops (the node died).
func TestLeasesRenewal(t *testing.T) {
	forEach(t, func(t *testing.T, b Backend) {
		const ttl = 600 * time.Millisecond
		l := NewLeases(b, ttl, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { l.Run(ctx); close(done) }()
		if r, err := l.Acquire(ctx, "renewed", "node1:c1", 1); err != nil || !r.Allowed {
			t.Fatalf("acquire: %+v %v", r, err)
		}
		if l.Held() != 1 {
			t.Fatalf("held %d", l.Held())
		}
		time.Sleep(3 * ttl)
		if r, _ := b.Acquire(context.Background(), "renewed", "node2:c1", 1, ttl); r.Allowed {
			t.Fatal("a renewed slot expired")
		}
		cancel()
		<-done
		time.Sleep(ttl + 200*time.Millisecond)
		if r, _ := b.Acquire(context.Background(), "renewed", "node2:c1", 1, ttl); !r.Allowed {
			t.Fatal("the slot of a stopped node did not expire")
		}
		if err := l.Release(context.Background(), "renewed", "node1:c1"); err != nil || l.Held() != 0 {
			t.Fatalf("release: %v, held %d", err, l.Held())
		}
	})
}
