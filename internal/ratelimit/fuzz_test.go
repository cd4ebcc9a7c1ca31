package ratelimit

import (
	"math"
	"testing"
)

// FuzzWindow checks the window arithmetic on any state: no panic, no
// negative count, refused hits leave the state alone, and Reset is exact
// (the hit fits at Reset, not a millisecond before) whenever the hit can
// ever fit.
func FuzzWindow(f *testing.F) {
	f.Add(int64(3), int64(5), int64(2), int64(1000), int64(500), int64(1), int64(4))
	f.Add(int64(0), int64(0), int64(0), int64(1), int64(0), int64(0), int64(0))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(7), int64(3600000), int64(3599999), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Add(int64(1<<40), int64(1<<40), int64(1), int64(86400000), int64(1), int64(1), int64(1<<41))
	f.Fuzz(func(t *testing.T, cur, prev, index, length, elapsed, n, limit int64) {
		if cur < 0 || prev < 0 || n < 0 || length < 1 || elapsed < 0 || index < 1 || index > 1<<30 {
			return
		}
		length = length%(1<<40) + 1
		elapsed %= length
		if limit < -1 {
			limit = -1
		}
		w := window{index: index, cur: cur, prev: prev}
		now := index*length + elapsed
		if now/length != index {
			return // overflow of the test's own clock
		}
		w2, r := w.hit(now, length, n, limit)
		if r.Count < 0 {
			t.Fatalf("negative count %d", r.Count)
		}
		if !r.Allowed {
			if w2 != w {
				t.Fatalf("refused hit changed the state: %+v -> %+v", w, w2)
			}
			if r.Reset <= 0 {
				t.Fatalf("refused with reset %v", r.Reset)
			}
			if n > limit || length > 1<<20 {
				return
			}
			ms := r.Reset.Milliseconds()
			if _, r2 := w.hit(now+ms, length, n, limit); !r2.Allowed {
				t.Fatalf("%+v at %d: not allowed after reset %d ms", w, now, ms)
			}
			if ms > 1 {
				if _, r2 := w.hit(now+ms-1, length, n, limit); r2.Allowed {
					t.Fatalf("%+v at %d: allowed before reset %d ms", w, now, ms)
				}
			}
		} else if limit >= 0 && r.Count > limit {
			t.Fatalf("allowed past the limit: count %d limit %d", r.Count, limit)
		}
	})
}
