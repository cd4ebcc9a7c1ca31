package ratelimit

import "time"

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
	return w.cur + ceilDiv(w.prev*(length-elapsed), length)
}

// hit applies n events at time nowMS (milliseconds) for a window of
// length ms and limit (< 0: none). It returns the new state and the
// result; events that do not fit are not counted.
func (w window) hit(nowMS, length, n, limit int64) (window, Result) {
	idx := nowMS / length
	elapsed := nowMS - idx*length
	w = w.at(idx)
	est := w.estimate(elapsed, length)
	if limit >= 0 && est+n > limit {
		return w, Result{Count: est, Reset: resetAfter(w.cur, w.prev, elapsed, length, n, limit)}
	}
	w.cur += n
	return w, Result{Allowed: true, Count: est + n}
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
			ms = length - elapsed - room*length/prev
		}
	} else {
		// After this window ends, when this window's count (then the
		// previous one) has slid out far enough:
		// ceil(cur*(length-t)/length) <= target.
		t := length - target*length/cur
		ms = length - elapsed + max(t, 0)
	}
	return time.Duration(max(ms, 1)) * time.Millisecond
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
