package ratelimit

import (
	"math"
	"math/bits"
	"time"
)

// window is the state of one sliding-window counter: the index of the
// current fixed window (time in ms divided by the window length) and the
// counts of that window and of the one before.
type window struct {
	index int64
	cur   int64
	prev  int64
}

// at returns the state as seen in fixed window idx: a counter last
// touched one window ago shifts its count into prev; older ones are
// empty.
func (w window) at(idx int64) window {
	switch w.index {
	case idx:
		return w
	case idx - 1:
		return window{index: idx, prev: w.cur}
	}
	return window{index: idx}
}

// estimate is the number of events in the sliding window that ends
// elapsed ms into the current fixed window of length ms: the current count
// plus the share of the previous count still inside the sliding window,
// rounded up (never in the client's favour).
func (w window) estimate(elapsed, length int64) int64 {
	return satAdd(w.cur, ceilMulDiv(w.prev, length-elapsed, length))
}

// hit applies n events at time nowMS (milliseconds) for a window of
// length ms and limit (< 0: none). It returns the new state and the
// result; events that do not fit are not counted.
func (w window) hit(nowMS, length, n, limit int64) (window, Result) {
	idx := nowMS / length
	elapsed := nowMS - idx*length
	w = w.at(idx)
	est := w.estimate(elapsed, length)
	if limit >= 0 && (n > limit || est > limit-n) {
		return w, Result{Count: est, Reset: resetAfter(w.cur, w.prev, elapsed, length, n, limit)}
	}
	w.cur = satAdd(w.cur, n)
	return w, Result{Allowed: true, Count: satAdd(est, n)}
}

// resetAfter is how long until n more events fit under limit, when no
// other event comes meanwhile; cur and prev are the counts of the current
// and previous fixed windows, elapsed ms into the current one.
func resetAfter(cur, prev, elapsed, length, n, limit int64) time.Duration {
	target := limit - n // the estimate must drop to at most this
	if target < 0 {
		// More than the limit at once never fits.
		return time.Duration(length) * time.Millisecond
	}
	var ms int64
	if cur <= target {
		// Within this window, once the previous window's share is
		// small enough: ceil(prev*(length-elapsed-t)/length) <= room.
		if prev > 0 {
			room := target - cur
			ms = length - elapsed - mulDiv(room, length, prev)
		}
	} else {
		// After this window ends, when this window's count (then the
		// previous one) has slid out far enough:
		// ceil(cur*(length-t)/length) <= target.
		t := length - mulDiv(target, length, cur)
		ms = length - elapsed + max(t, 0)
	}
	return time.Duration(max(ms, 1)) * time.Millisecond
}

// mulDiv is floor(a*b/c) for a, b >= 0 and c > 0 without overflow,
// saturating at math.MaxInt64.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// ceilMulDiv is ceil(a*b/c), as mulDiv.
func ceilMulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, uint64(c))
	if r != 0 {
		q++
	}
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// satAdd is a+b for a, b >= 0, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
