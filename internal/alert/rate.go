// Package alert watches the outbound mail rate of each user and of the
// whole host, and acts when it spikes (the usual sign of a stolen
// password): it logs, holds the user's new mail in the queue or refuses
// it with 451, and tells the admin by a webhook POST and a mail to the
// postmaster.
package alert

import (
	"sync"
	"time"
)

// rates counts events per key in fixed windows and compares the current
// window with the average of the previous ones.
type rates struct {
	window  time.Duration
	keep    int // past windows in the baseline
	factor  int
	mu      sync.Mutex
	series  map[string]*series
	pruneAt time.Time
}

type series struct {
	start  time.Time // start of the current window
	cur    int       // events in the current window
	past   []int     // counts of the previous windows, a ring
	filled int       // how many of past are real windows
	idx    int       // next slot of past
	until  time.Time // the alert action lasts until then
}

func newRates(window time.Duration, keep, factor int) *rates {
	return &rates{window: window, keep: keep, factor: factor, series: map[string]*series{}}
}

// advance moves s to the window holding now.
func (r *rates) advance(s *series, now time.Time) {
	if now.Before(s.start.Add(r.window)) {
		return
	}
	n := int(now.Sub(s.start) / r.window)
	s.start = s.start.Add(time.Duration(n) * r.window)
	for i := 0; i < n && i < r.keep; i++ {
		v := 0
		if i == 0 {
			v = s.cur
		}
		s.past[s.idx] = v
		s.idx = (s.idx + 1) % r.keep
		if s.filled < r.keep {
			s.filled++
		}
	}
	s.cur = 0
}

func (s *series) baseline() float64 {
	if s.filled == 0 {
		return 0
	}
	sum := 0
	for _, v := range s.past {
		sum += v
	}
	return float64(sum) / float64(s.filled)
}

// trip is what add reports when a key goes over its threshold.
type trip struct {
	count    int
	baseline float64
	limit    float64
}

// add counts one event for key and reports a trip when the current
// window now holds more than factor times max(baseline, floor) and the
// key was not already tripped. hold is how long the trip lasts.
func (r *rates) add(key string, floor int, now time.Time, hold time.Duration) *trip {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(now)
	s := r.series[key]
	if s == nil {
		s = &series{start: now.Truncate(r.window), past: make([]int, r.keep)}
		r.series[key] = s
	}
	r.advance(s, now)
	s.cur++
	base := s.baseline()
	limit := float64(r.factor) * max(base, float64(floor))
	if float64(s.cur) <= limit || now.Before(s.until) {
		return nil
	}
	s.until = now.Add(hold)
	return &trip{count: s.cur, baseline: base, limit: limit}
}

// active reports whether key is tripped at now.
func (r *rates) active(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.series[key]
	return s != nil && now.Before(s.until)
}

// activeKeys lists the tripped keys.
func (r *rates) activeKeys(now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, s := range r.series {
		if now.Before(s.until) {
			out = append(out, k)
		}
	}
	return out
}

// prune drops keys that have been quiet for the whole baseline, once per
// window; r.mu is held.
func (r *rates) prune(now time.Time) {
	if now.Before(r.pruneAt) {
		return
	}
	r.pruneAt = now.Add(r.window)
	quiet := time.Duration(r.keep+1) * r.window
	for k, s := range r.series {
		if now.Sub(s.start) > quiet && !now.Before(s.until) {
			delete(r.series, k)
		}
	}
}

// thresholds gives, for the host key and every user key counted, the
// count in the current window above which it trips:
// factor x max(baseline, floor).
func (r *rates) thresholds(now time.Time, userFloor, hostFloor int) map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]float64{hostKey: float64(r.factor * hostFloor)}
	for k, s := range r.series {
		r.advance(s, now)
		floor := userFloor
		if k == hostKey {
			floor = hostFloor
		}
		out[k] = float64(r.factor) * max(s.baseline(), float64(floor))
	}
	return out
}
