package ratelimit

import (
	"testing"
	"time"
)

func TestWindowHit(t *testing.T) {
	const L = 1000 // window length, ms
	type step struct {
		at      int64 // ms
		n       int64
		allowed bool
		count   int64
		reset   time.Duration // checked when not allowed
	}
	tests := []struct {
		name  string
		limit int64
		steps []step
	}{
		{"fills then refuses", 3, []step{
			{100, 1, true, 1, 0}, {200, 1, true, 2, 0}, {300, 1, true, 3, 0},
			// cur 3 > target 2: after this window (600 ms), then until
			// ceil(3*(1000-t)/1000) <= 2: t >= 334.
			{400, 1, false, 3, 934 * time.Millisecond},
		}},
		{"previous window slides out", 3, []step{
			{900, 3, true, 3, 0},
			// New window at 1000: prev 3, 10% elapsed: ceil(3*0.9) = 3.
			// Wait until ceil(3*(1000-e)/1000) <= 2: e >= 334, 234 ms on.
			{1100, 1, false, 3, 234 * time.Millisecond},
			{1333, 1, false, 3, time.Millisecond},
			{1334, 1, true, 3, 0},
			{1334, 1, false, 3, 0},
		}},
		{"a window with nothing resets", 2, []step{
			{0, 2, true, 2, 0}, {10, 1, false, 2, 1490 * time.Millisecond},
			{2000, 1, true, 1, 0},
		}},
		{"more than the limit at once never fits", 2, []step{
			{0, 3, false, 0, time.Second},
		}},
		{"zero reads", 2, []step{
			{0, 2, true, 2, 0}, {1, 0, true, 2, 0}, {1, 1, false, 2, 0},
		}},
		{"an emptied window still holds back a burst", 4, []step{
			// 4 at the very end of a window weigh fully at the start
			// of the next (a plain fixed window would let 4 more in).
			{999, 4, true, 4, 0}, {1000, 1, false, 4, 0}, {1500, 2, true, 4, 0},
		}},
		{"no limit counts", -1, []step{
			{0, 100, true, 100, 0}, {1, 100, true, 200, 0},
		}},
		{"limit zero refuses all", 0, []step{
			{0, 1, false, 0, time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w window
			for i, s := range tt.steps {
				var r Result
				w, r = w.hit(s.at, L, s.n, tt.limit)
				if r.Allowed != s.allowed || r.Count != s.count {
					t.Fatalf("step %d at %d: %+v, want allowed %v count %d", i, s.at, r, s.allowed, s.count)
				}
				if !s.allowed && s.reset != 0 && r.Reset != s.reset {
					t.Fatalf("step %d: reset %v, want %v", i, r.Reset, s.reset)
				}
			}
		})
	}
}

// Reset is never too early: one ms before it the hit still fails, at it
// the hit fits.
func TestResetIsExact(t *testing.T) {
	const L = 1000
	for limit := int64(1); limit <= 5; limit++ {
		for prev := int64(0); prev <= 7; prev++ {
			for cur := int64(0); cur <= 7; cur++ {
				for e := int64(0); e < L; e += 37 {
					w := window{index: 5, cur: cur, prev: prev}
					now := 5*L + e
					_, r := w.hit(now, L, 1, limit)
					if r.Allowed {
						continue
					}
					ms := r.Reset.Milliseconds()
					if _, r2 := w.hit(now+ms, L, 1, limit); !r2.Allowed {
						t.Fatalf("limit %d prev %d cur %d e %d: not allowed after reset %d ms", limit, prev, cur, e, ms)
					}
					if ms > 1 {
						if _, r2 := w.hit(now+ms-1, L, 1, limit); r2.Allowed {
							t.Fatalf("limit %d prev %d cur %d e %d: allowed before reset %d ms", limit, prev, cur, e, ms)
						}
					}
				}
			}
		}
	}
}
