package greylist

import (
	"testing"
	"time"

	"postern/internal/ratelimit"
	"postern/internal/ratelimit/redistest"
)

// The rate limits' backends hold the greylist too.
var (
	_ Store = (*ratelimit.Memory)(nil)
	_ Store = (*ratelimit.Redis)(nil)
)

func TestGreylistInRateLimitMemory(t *testing.T) {
	g, ck := setup(0)
	g.Store = ratelimit.NewMemory(ratelimit.MemoryOptions{Now: ck.now})
	if c := try(g, "192.0.2.1", "a@x.example", "u@example.test"); c != 451 {
		t.Fatalf("first attempt: %d", c)
	}
	ck.t = ck.t.Add(6 * time.Minute)
	if c := try(g, "192.0.2.1", "a@x.example", "u@example.test"); c != 250 {
		t.Fatalf("retry: %d", c)
	}
}

// Two nodes sharing one Redis share the greylist: a sender greylisted by
// one is accepted by the other when it retries there.
func TestGreylistSharedThroughRedis(t *testing.T) {
	srv := redistest.Start(t)
	nodes := make([]*Greylist, 2)
	ck := &clock{time.Now()}
	for i := range nodes {
		r, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: srv.URL(), Prefix: "greytest:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		g, _ := setup(2)
		g.Store, g.Now = r, ck.now
		nodes[i] = g
	}
	if c := try(nodes[0], "2001:db8::1", "a@x.example", "u@example.test"); c != 451 {
		t.Fatalf("node 0, first attempt: %d", c)
	}
	if c := try(nodes[1], "2001:db8::1", "a@x.example", "u@example.test"); c != 451 {
		t.Fatalf("node 1, too early: %d", c)
	}
	ck.t = ck.t.Add(6 * time.Minute)
	if c := try(nodes[1], "2001:db8::1", "a@x.example", "u@example.test"); c != 250 {
		t.Fatalf("node 1, retry after the delay: %d", c)
	}
	// A second passed triplet (on the other node) allows the network.
	try(nodes[0], "2001:db8::1", "a@x.example", "v@example.test")
	ck.t = ck.t.Add(6 * time.Minute)
	if c := try(nodes[1], "2001:db8::1", "a@x.example", "v@example.test"); c != 250 {
		t.Fatalf("second triplet: %d", c)
	}
	if c := try(nodes[0], "2001:db8::2", "new@y.example", "w@example.test"); c != 250 {
		t.Errorf("auto-allowed network on the other node: %d", c)
	}
}
