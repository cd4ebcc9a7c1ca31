package deliver

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"postern/internal/smtp"
)

// Pacing per destination, as Postfix's qmgr does it: each destination (a
// recipient domain, or the next hop of a route or the smarthost) has a
// concurrency limit, a rate delay and a recipient limit, and a
// destination that fails as a whole (no server could be reached, or each
// greeted or answered EHLO with 4xx, or a session ended with 421) is
// backed off for a while, its other messages deferred without each
// trying a connection.
//
// A delivery never waits long for its destination: when the destination
// is busy (its sessions are all under way and as many deliveries wait
// already, or its rate delay has not passed) the recipients come back
// with a *Busy result, which the queue takes as "not now, try at At"
// without counting an attempt. So a slow or paced destination holds at
// most twice its concurrency of the queue's delivery places, and mail
// for the others flows beside it.

// DestinationLimits are the pacing limits of one destination.
type DestinationLimits struct {
	// Concurrency bounds the sessions under way at once; it is 1 while
	// RateDelay is set.
	Concurrency int
	// RateDelay is the least time from the end of one delivery to the
	// start of the next; 0 means none.
	RateDelay time.Duration
	// RecipientLimit is the most recipients in one transaction; more
	// are sent in further transactions.
	RecipientLimit int
}

// Busy is the result of a recipient whose destination cannot take it now
// (pacing, not a failure): try again at At, without counting an attempt.
type Busy struct {
	Dest string
	At   time.Time
}

func (e *Busy) Error() string {
	return fmt.Sprintf("destination %s is busy (pacing); next turn at %s", e.Dest, e.At.Format(time.RFC3339))
}

// RetryAt is when the recipient may be tried again.
func (e *Busy) RetryAt() time.Time { return e.At }

// replyBackedOff defers mail for a destination that is backed off.
// RFC 3463 3.5: X.4.1 no answer from host.
var replyBackedOff = &smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "destination is not answering, delivery suspended for now, will try again"}

// health is what one delivery says about its destination.
type health int

const (
	healthNeutral health = iota // nothing learnt (DNS, TLS policy, 5xx)
	healthUp                    // a server took a transaction
	healthDown                  // no server reachable, or 4xx/421 for the session
)

// BackedOff is one destination that is backed off.
type BackedOff struct {
	Dest     string
	Until    time.Time
	Failures int
	Reason   string
}

// pacer keeps the state of every destination under way or remembered.
type pacer struct {
	now        func() time.Time
	after      func(time.Duration) <-chan time.Time // time.After; tests replace it
	log        *slog.Logger
	backoffMin time.Duration
	backoffMax time.Duration

	mu      sync.Mutex
	dests   map[string]*destState
	sweepAt int // the map size at which idle states are dropped
}

type destState struct {
	lim       DestinationLimits
	active    int           // deliveries under way
	waiters   int           // deliveries waiting for a place
	wake      chan struct{} // closed when a place frees
	lastEnd   time.Time     // when the last delivery ended
	tail      time.Time     // the last turn given to a Busy result
	avg       time.Duration // moving average of a delivery's duration
	measured  bool          // avg comes from deliveries, not the guess
	failures  int           // failures of the destination in a row
	downUntil time.Time     // backed off until then
	reason    string        // why it is backed off
}

// defaultAvg is the guess of a delivery's duration before one is seen
// (short: a guess too early costs less than one too late).
const defaultAvg = 100 * time.Millisecond

func newPacer(now func() time.Time, log *slog.Logger, backoffMin, backoffMax time.Duration) *pacer {
	return &pacer{now: now, after: time.After, log: log, backoffMin: backoffMin, backoffMax: max(backoffMax, backoffMin),
		dests: map[string]*destState{}, sweepAt: 1024}
}

// limit is the concurrency in force: 1 while a rate delay is set or the
// destination comes back after failures (one session tries it).
func (st *destState) limit() int {
	if st.lim.RateDelay > 0 || st.failures > 0 {
		return 1
	}
	return max(st.lim.Concurrency, 1)
}

// state returns key's state (made on first use) with its limits as now
// configured. The caller holds p.mu.
func (p *pacer) state(key string, lim DestinationLimits) *destState {
	st := p.dests[key]
	if st == nil {
		if len(p.dests) >= p.sweepAt {
			p.sweep(p.now())
			p.sweepAt = max(1024, 2*len(p.dests))
		}
		st = &destState{wake: make(chan struct{}), avg: defaultAvg}
		p.dests[key] = st
	}
	st.lim = lim
	return st
}

// sweep drops the states that remember nothing useful any more.
func (p *pacer) sweep(now time.Time) {
	for k, st := range p.dests {
		if st.active == 0 && st.waiters == 0 && st.failures == 0 &&
			now.After(st.lastEnd.Add(st.lim.RateDelay)) && now.After(st.tail) {
			delete(p.dests, k)
		}
	}
}

// lease is one delivery's place at its destination.
type lease struct {
	key   string
	st    *destState
	start time.Time
}

// acquire takes a place at destination key for one transaction. It
// waits (until ctx ends) only while fewer deliveries wait than the
// destination's concurrency, or, with a rate delay, while none waits
// (that one starts when the delay has passed); otherwise a busy
// destination gives a *Busy error. A backed-off destination gives a
// temporary failure that says why.
func (p *pacer) acquire(ctx context.Context, key string, lim DestinationLimits) (*lease, error) {
	p.mu.Lock()
	st := p.state(key, lim)
	for {
		now := p.now()
		if now.Before(st.downUntil) {
			err := replyBackedOff.With(fmt.Errorf("%s backed off until %s after %d failure(s): %s",
				key, st.downUntil.Format(time.RFC3339), st.failures, st.reason))
			p.mu.Unlock()
			return nil, err
		}
		limit, readyAt := st.limit(), st.lastEnd.Add(st.lim.RateDelay)
		if st.active < limit && !now.Before(readyAt) {
			st.active++
			p.mu.Unlock()
			return &lease{key: key, st: st, start: now}, nil
		}
		if st.waiters >= st.maxWaiters() {
			at := st.nextTurn(now, limit)
			p.mu.Unlock()
			return nil, &Busy{Dest: key, At: at}
		}
		st.waiters++
		wake := st.wake
		var delay <-chan time.Time
		if st.active < limit {
			delay = p.after(readyAt.Sub(now)) // only the rate delay holds it
		}
		p.mu.Unlock()
		select {
		case <-wake:
		case <-delay:
		case <-ctx.Done():
		}
		p.mu.Lock()
		st.waiters--
		if err := ctx.Err(); err != nil {
			p.mu.Unlock()
			return nil, err
		}
	}
}

// maxWaiters is how many deliveries may wait for a place: as many as
// the concurrency, one with a rate delay (the next to go), none while a
// destination that failed is tried again.
func (st *destState) maxWaiters() int {
	switch {
	case st.failures > 0:
		return 0
	case st.lim.RateDelay > 0:
		return 1
	}
	return st.limit()
}

// nextTurn gives a Busy result its time: when a place is expected to
// free after the deliveries under way and waiting, and for each result
// given since, one more delivery's time later, so that the messages sent
// away come back one after the other instead of all at once. An early
// guess costs a message one more Busy result; a late one, idle time.
// The caller holds p.mu.
func (st *destState) nextTurn(now time.Time, limit int) time.Time {
	step := st.avg + st.lim.RateDelay
	if st.lim.RateDelay == 0 {
		step = st.avg / time.Duration(limit)
	}
	step = max(step, time.Millisecond)
	free := st.lastEnd.Add(st.lim.RateDelay)
	if st.active >= limit {
		free = now.Add(st.avg + st.lim.RateDelay)
	}
	free = free.Add(time.Duration(st.waiters) * step)
	if free.Before(now) {
		free = now
	}
	if st.tail.Before(free) {
		st.tail = free
	} else {
		st.tail = st.tail.Add(step)
	}
	return st.tail
}

// release gives the place back with what the delivery learnt.
func (p *pacer) release(l *lease, h health, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, now := l.st, p.now()
	st.active--
	st.lastEnd = now
	if d := now.Sub(l.start); d >= 0 && st.measured {
		st.avg = (3*st.avg + d) / 4
	} else if d >= 0 {
		st.avg, st.measured = d, true
	}
	switch h {
	case healthUp:
		if st.failures > 0 {
			p.log.Info("destination answers again", "dest", l.key, "failures", st.failures)
		}
		st.failures, st.reason, st.downUntil = 0, "", time.Time{}
	case healthDown:
		if now.Before(st.downUntil) {
			break // another session found it down already
		}
		st.failures++
		st.reason = reason
		st.downUntil = now.Add(p.backoff(st.failures))
		p.log.Warn("destination backed off", "dest", l.key, "until", st.downUntil.Format(time.RFC3339),
			"failures", st.failures, "reason", reason)
	}
	close(st.wake)
	st.wake = make(chan struct{})
}

// backoff is how long a destination that failed n times in a row is
// left alone: backoffMin, doubling, at most backoffMax.
func (p *pacer) backoff(n int) time.Duration {
	d := p.backoffMin
	for i := 1; i < n && d < p.backoffMax; i++ {
		d *= 2
	}
	return min(d, p.backoffMax)
}

// reset forgets every back-off (a queue flush asks for it: the admin
// wants the mail tried now).
func (p *pacer) reset() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, st := range p.dests {
		if !st.downUntil.IsZero() {
			n++
		}
		st.downUntil = time.Time{}
	}
	return n
}

// backedOff lists the destinations backed off now, by name.
func (p *pacer) backedOff() []BackedOff {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var out []BackedOff
	for k, st := range p.dests {
		if now.Before(st.downUntil) {
			out = append(out, BackedOff{Dest: k, Until: st.downUntil, Failures: st.failures, Reason: st.reason})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dest < out[j].Dest })
	return out
}

// SetDestination gives the destination match (a recipient domain, or a
// next hop as Hop.String writes it) limits of its own.
func (r *Remote) SetDestination(match string, l DestinationLimits) {
	if r.Destinations == nil {
		r.Destinations = map[string]DestinationLimits{}
	}
	r.Destinations[strings.ToLower(match)] = l
}

// limitsFor are the limits of dest: its own entry (the domain, or the
// first hop with one), else the defaults.
func (r *Remote) limitsFor(dest Destination) DestinationLimits {
	lim := DestinationLimits{Concurrency: r.DestinationConcurrency, RateDelay: r.DestinationRateDelay,
		RecipientLimit: r.DestinationRecipientLimit}
	keys := []string{strings.ToLower(dest.Domain)}
	if len(dest.Hops) > 0 {
		keys = keys[:0]
		for _, h := range dest.Hops {
			keys = append(keys, strings.ToLower(h.String()))
		}
	}
	for _, k := range keys {
		if l, ok := r.Destinations[k]; ok {
			lim = l
			break
		}
	}
	if lim.Concurrency <= 0 {
		lim.Concurrency = r.DestinationConcurrency
	}
	if lim.RecipientLimit <= 0 {
		lim.RecipientLimit = r.DestinationRecipientLimit
	}
	return lim
}
