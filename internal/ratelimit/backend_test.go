package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/ratelimit/redistest"
	"postern/internal/testpeer"
)

// backends returns every backend to run the shared suite against; each
// test gets fresh keys (the name of the test).
func backends(t testing.TB) map[string]Backend {
	t.Helper()
	srv := redistest.Start(t)
	r, err := NewRedis(RedisOptions{URL: srv.URL(), Prefix: fmt.Sprintf("t%d:", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	pg := testpeer.StartPostgres(t)
	p, err := NewPostgres(PostgresOptions{URL: pg.URL, Prefix: fmt.Sprintf("t%d:", time.Now().UnixNano()), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return map[string]Backend{"memory": NewMemory(MemoryOptions{}), "redis": r, "postgres": p}
}

func forEach(t *testing.T, f func(t *testing.T, b Backend)) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) { f(t, b) })
	}
}

func TestBackendHit(t *testing.T) {
	forEach(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		const win = 600 * time.Millisecond
		for i := 1; i <= 3; i++ {
			r, err := b.Hit(ctx, "hit", 1, win, 3)
			if err != nil || !r.Allowed || r.Count != int64(i) {
				t.Fatalf("hit %d: %+v %v", i, r, err)
			}
		}
		r, err := b.Hit(ctx, "hit", 1, win, 3)
		if err != nil || r.Allowed || r.Count != 3 {
			t.Fatalf("hit over the limit: %+v %v", r, err)
		}
		if r.Reset <= 0 || r.Reset > 2*win {
			t.Fatalf("reset %v, want within (0, %v]", r.Reset, 2*win)
		}
		// Refused hits are not counted; a read does not count either.
		if r, _ := b.Hit(ctx, "hit", 0, win, 3); r.Count != 3 {
			t.Fatalf("read: %+v", r)
		}
		// Another key is independent.
		if r, _ := b.Hit(ctx, "other", 2, win, 3); !r.Allowed || r.Count != 2 {
			t.Fatalf("other key: %+v", r)
		}
		time.Sleep(r.Reset + 20*time.Millisecond)
		r, err = b.Hit(ctx, "hit", 1, win, 3)
		if err != nil || !r.Allowed {
			t.Fatalf("after reset %v: %+v %v", r.Reset, r, err)
		}
		// Two windows later everything has slid out.
		time.Sleep(2 * win)
		if r, _ := b.Hit(ctx, "hit", 0, win, 3); r.Count != 0 {
			t.Fatalf("after two windows: %+v", r)
		}
		// No limit: only counted.
		if r, _ := b.Hit(ctx, "count", 1000, win, -1); !r.Allowed || r.Count != 1000 {
			t.Fatalf("no limit: %+v", r)
		}
		if _, err := b.Hit(ctx, "bad", -1, win, 3); err == nil {
			t.Fatal("negative n: no error")
		}
		if _, err := b.Hit(ctx, "bad", 1, 0, 3); err == nil {
			t.Fatal("zero window: no error")
		}
	})
}

// Many goroutines hitting one key never get more than the limit through.
func TestBackendHitConcurrent(t *testing.T) {
	forEach(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 25; i++ {
					r, err := b.Hit(ctx, "race", 1, time.Minute, 50)
					if err != nil {
						t.Error(err)
						return
					}
					if r.Allowed {
						allowed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if allowed.Load() != 50 {
			t.Fatalf("%d allowed, want exactly 50", allowed.Load())
		}
	})
}

func TestBackendLeases(t *testing.T) {
	forEach(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		acq := func(holder string, want bool, count int64) {
			t.Helper()
			r, err := b.Acquire(ctx, "conc", holder, 2, time.Minute)
			if err != nil || r.Allowed != want || r.Count != count {
				t.Fatalf("acquire %s: %+v %v, want allowed %v count %d", holder, r, err, want, count)
			}
		}
		acq("a", true, 1)
		acq("b", true, 2)
		acq("c", false, 2)
		acq("a", true, 2) // held already: renewed, still allowed
		if err := b.Release(ctx, Lease{"conc", "a"}); err != nil {
			t.Fatal(err)
		}
		acq("c", true, 2)
		if err := b.Release(ctx, Lease{"conc", "nobody"}); err != nil {
			t.Fatalf("release of a slot not held: %v", err)
		}
		// No limit.
		if r, err := b.Acquire(ctx, "free", "x", -1, time.Minute); err != nil || !r.Allowed {
			t.Fatalf("no limit: %+v %v", r, err)
		}

		// A holder that stops renewing (a dead node) loses its slot.
		const ttl = time.Second
		if r, _ := b.Acquire(ctx, "dead", "n1", 1, ttl); !r.Allowed {
			t.Fatal("dead: first acquire refused")
		}
		if r, _ := b.Acquire(ctx, "alive", "n1", 1, ttl); !r.Allowed {
			t.Fatal("alive: first acquire refused")
		}
		time.Sleep(600 * time.Millisecond)
		if err := b.Renew(ctx, []Lease{{"alive", "n1"}, {"gone", "n9"}}, ttl); err != nil {
			t.Fatal(err)
		}
		time.Sleep(600 * time.Millisecond)
		if r, _ := b.Acquire(ctx, "dead", "n2", 1, ttl); !r.Allowed {
			t.Fatalf("expired slot still taken: %+v", r)
		}
		if r, _ := b.Acquire(ctx, "alive", "n2", 1, ttl); r.Allowed {
			t.Fatalf("renewed slot taken by another: %+v", r)
		}
		// Renew does not bring back a slot that was released.
		b.Release(ctx, Lease{"alive", "n1"})
		b.Renew(ctx, []Lease{{"alive", "n1"}}, ttl)
		if r, _ := b.Acquire(ctx, "alive", "n2", 1, ttl); !r.Allowed {
			t.Fatalf("renew revived a released slot: %+v", r)
		}
	})
}

func TestBackendValues(t *testing.T) {
	forEach(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		const ttl = time.Second
		if ok, err := b.SetNX(ctx, "k", []byte("one"), ttl); !ok || err != nil {
			t.Fatalf("setnx new: %v %v", ok, err)
		}
		if ok, err := b.SetNX(ctx, "k", []byte("two"), ttl); ok || err != nil {
			t.Fatalf("setnx existing: %v %v", ok, err)
		}
		if v, ok, err := b.Get(ctx, "k"); string(v) != "one" || !ok || err != nil {
			t.Fatalf("get: %q %v %v", v, ok, err)
		}
		if _, ok, _ := b.Get(ctx, "missing"); ok {
			t.Fatal("get missing: found")
		}
		if ok, _ := b.Touch(ctx, "missing", ttl); ok {
			t.Fatal("touch missing: true")
		}
		time.Sleep(600 * time.Millisecond)
		if ok, err := b.Touch(ctx, "k", ttl); !ok || err != nil {
			t.Fatalf("touch: %v %v", ok, err)
		}
		time.Sleep(600 * time.Millisecond) // past the first ttl, inside the touched one
		if v, ok, _ := b.Get(ctx, "k"); !ok || string(v) != "one" {
			t.Fatalf("after touch: %q %v", v, ok)
		}
		if err := b.Set(ctx, "k", []byte("three"), ttl); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := b.Get(ctx, "k"); string(v) != "three" {
			t.Fatalf("after set: %q", v)
		}
		time.Sleep(ttl + 200*time.Millisecond)
		if _, ok, _ := b.Get(ctx, "k"); ok {
			t.Fatal("value outlived its ttl")
		}
		if ok, _ := b.SetNX(ctx, "k", []byte("four"), ttl); !ok {
			t.Fatal("setnx after expiry refused")
		}
	})
}

// The memory backend stays within MaxKeys.
func TestMemoryBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMemory(MemoryOptions{MaxKeys: 640, Now: func() time.Time { return now }})
	ctx := context.Background()
	for i := 0; i < 10000; i++ {
		m.Hit(ctx, fmt.Sprint("w", i), 1, time.Hour, 10)
		m.SetNX(ctx, fmt.Sprint("v", i), []byte("x"), time.Hour)
	}
	if n := m.Len(); n > 640 {
		t.Fatalf("%d keys, want at most 640", n)
	}
	// Expired keys are swept.
	now = now.Add(3 * time.Hour)
	m.Hit(ctx, "fresh", 1, time.Hour, 10)
	for i := 0; i < 100*memShards; i++ {
		m.Hit(ctx, fmt.Sprint("sweep", i), 0, time.Hour, 10)
	}
	if n := m.Len(); n > 1 {
		t.Fatalf("%d keys after everything expired, want 1", n)
	}
}

// A Redis that forgot its scripts (restart, SCRIPT FLUSH) still works:
// EVALSHA falls back to EVAL.
func TestRedisScriptFlush(t *testing.T) {
	srv := redistest.Start(t)
	r, err := NewRedis(RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if _, err := r.Hit(ctx, "x", 1, time.Minute, 5); err != nil {
		t.Fatal(err)
	}
	if err := r.c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Hit(ctx, "x", 1, time.Minute, 5); err != nil || res.Count != 2 {
		t.Fatalf("after SCRIPT FLUSH: %+v %v", res, err)
	}
}

// An unreachable Redis gives errors quickly, never a hang.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	r, err := NewRedis(RedisOptions{URL: srv.URL(), Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if _, err := r.Hit(context.Background(), "x", 1, time.Minute, 5); err == nil {
		t.Fatal("no error from a stopped redis")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	// Right after a failure, calls fail at once; a second later Redis
	// is tried again.
	if _, _, err := r.Get(context.Background(), "x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second call: %v, want ErrUnavailable", err)
	}
	time.Sleep(pause + 100*time.Millisecond)
	if _, _, err := r.Get(context.Background(), "x"); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("after the pause: %v, want a connection error", err)
	}
	if _, err := NewRedis(RedisOptions{URL: "http://x"}); err == nil {
		t.Fatal("bad URL accepted")
	}
}

func BenchmarkHit(b *testing.B) {
	for name, be := range backends(b) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = fmt.Sprint("bench:", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := be.Hit(ctx, keys[i%len(keys)], 1, time.Hour, 1<<40); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAcquireRelease(b *testing.B) {
	for name, be := range backends(b) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				h := fmt.Sprint("h", i)
				if _, err := be.Acquire(ctx, "bench", h, 1<<20, time.Minute); err != nil {
					b.Fatal(err)
				}
				be.Release(ctx, Lease{"bench", h})
			}
		})
	}
}

// BenchmarkHitParallel is many sessions checking limits at once.
func BenchmarkHitParallel(b *testing.B) {
	for name, be := range backends(b) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				key := fmt.Sprint("par:", n.Add(1))
				for pb.Next() {
					if _, err := be.Hit(ctx, key, 1, time.Hour, 1<<40); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
