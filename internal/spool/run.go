package spool

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

// item is one queued message in memory. Its fields are guarded by
// Spool.mu, except env (never changed after Commit or load) and verified,
// which only the one delivery that holds the item touches.
type item struct {
	env       *envelope.Envelope
	final     []bool // per recipient: delivered or failed for good
	attempts  int
	next      time.Time // when it is due
	lastErr   string
	hasState  bool // a state file exists
	recovered bool // loaded from disk: recipients may hold copies already
	held      bool // not delivered until released
	active    bool // a delivery attempt (or an admin action) is under way
	lane      lane // the lane of the attempt under way
	warned    bool // the delay notice was sent
	flushReq  bool // a flush was asked for while no server ran
	verified  bool // content checksum checked by this process
	heapIdx   int  // index in Spool.waiting (or turns), -1 when not there
	turn      bool // waits for a pacing turn, in Spool.turns
	// mem is the content as committed, for the first attempt (see
	// memcopy.go); nil once taken, and for recovered messages.
	mem []byte
}

// enqueue adds a freshly committed message, due now unless the envelope
// says to hold it. In deferred mode it waits for the next queue run. mem
// is the content's copy for the first attempt (its budget reserved), or
// nil; a message that does not go out now does not keep it.
func (s *Spool) enqueue(env *envelope.Envelope, mem []byte) {
	it := &item{env: env, final: make([]bool, len(env.Rcpts)), verified: true, held: env.Hold, heapIdx: -1, mem: mem}
	s.mu.Lock()
	s.items[env.ID] = it
	if it.held || s.opt.Deferred {
		s.dropMem(it)
	}
	switch {
	case it.held:
	case s.opt.Deferred:
		it.next = s.now()
		s.waiting.push(it)
	default:
		s.ready[s.laneOf(it)] = append(s.ready[s.laneOf(it)], it)
	}
	s.mu.Unlock()
	if it.held {
		s.log.Info("message held", "id", env.ID)
		return
	}
	s.Kick()
}

// Run delivers queued messages through the Courier until ctx ends: every
// due message is tried, at most MaxActive at once in the normal lane and
// SlowActive in the slow lane, and those that must be retried wait with
// exponential backoff. In deferred mode messages are tried only in queue
// runs: every QueueInterval, and when Flush asks. It returns nil once ctx
// has ended and the deliveries under way have returned. Run may be
// called once.
func (s *Spool) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("spool: Run called twice")
	}
	s.running = true
	s.nextRun = s.now().Add(s.opt.QueueInterval)
	s.mu.Unlock()

	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := s.now()
		s.popDue(&s.turns, now)
		switch {
		case !s.opt.Deferred:
			s.popDue(&s.waiting, now)
		case !now.Before(s.nextRun):
			n := s.popDue(&s.waiting, now)
			s.nextRun = now.Add(s.opt.QueueInterval)
			if n > 0 {
				s.log.Info("queue run", "due", n)
			}
		}
		for _, l := range lanes {
			for s.active[l] < s.laneLimit(l) && len(s.ready[l]) > 0 {
				it := s.ready[l][0]
				s.ready[l][0] = nil
				s.ready[l] = s.ready[l][1:]
				s.active[l]++
				it.active, it.lane = true, l
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.attempt(ctx, it)
					s.mu.Lock()
					s.active[l]--
					it.active = false
					s.mu.Unlock()
					s.Kick()
				}()
			}
		}
		wait := time.Hour
		if s.opt.Deferred {
			wait = s.nextRun.Sub(now)
		} else if s.waiting.Len() > 0 {
			wait = s.waiting.items[0].next.Sub(now)
		}
		if s.turns.Len() > 0 {
			wait = min(wait, s.turns.items[0].next.Sub(now))
		}
		s.mu.Unlock()
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
		case <-timer.C:
		}
	}
}

// popDue moves the messages of h that are due to their lanes' ready
// lists and returns how many. The caller holds s.mu.
func (s *Spool) popDue(h *waitHeap, now time.Time) int {
	n := 0
	for h.Len() > 0 && !h.items[0].next.After(now) {
		it := heap.Pop(h).(*item)
		it.turn = false
		l := s.laneOf(it)
		s.ready[l] = append(s.ready[l], it)
		n++
	}
	return n
}

// unready takes it out of the ready lists. The caller holds s.mu.
func (s *Spool) unready(it *item) {
	for _, l := range lanes {
		for i, r := range s.ready[l] {
			if r == it {
				s.ready[l] = append(s.ready[l][:i:i], s.ready[l][i+1:]...)
				return
			}
		}
	}
}

// deliver calls the Courier. A panic in it becomes a temporary error for
// every recipient: one odd message must not stop the server (and, being
// retried at every start, keep it from running).
func (s *Spool) deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) (errs []error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("delivery panicked", "id", env.ID, "panic", p, "stack", string(debug.Stack()))
			err := fmt.Errorf("internal error in delivery: %v", p)
			errs = make([]error, len(rcpts))
			for i := range errs {
				errs[i] = err
			}
		}
	}()
	return s.courier.Deliver(ctx, env, rcpts, body)
}

// later records an attempt that left recipients pending and schedules the
// next one. rec holds the final records of this attempt; durable says
// whether they must reach the disk before anything else happens. An
// attempt not counted is tried again at once, or at turn when that is
// set (its recipients wait for their destination's pacing); a counted
// one after its backoff, or at turn when that comes first. lastErr ""
// keeps the last error as it was.
func (s *Spool) later(it *item, done []int, durable bool, lastErr string, counted bool, turn time.Time, rec ...byte) {
	now := s.now()
	s.mu.Lock()
	attempts := it.attempts
	if lastErr == "" {
		lastErr = it.lastErr
	}
	s.mu.Unlock()
	next := now
	if !counted && !turn.IsZero() {
		next = turn
	}
	if counted {
		attempts++
		next = now.Add(s.backoff(attempts))
		// The last try is made when the lifetime ends, not up to
		// retry_max after it.
		if end := it.env.Received.Add(s.opt.Lifetime); next.After(end) && end.After(now) {
			next = end
		}
		if !turn.IsZero() && turn.Before(next) {
			next = turn
		}
		rec = appendAttempt(rec, now, next, lastErr)
	}
	id := it.env.ID
	if len(rec) > 0 {
		created, err := appendState(s.statePath(id), rec, durable)
		if err == nil && created && durable {
			err = s.group.syncDir()
		}
		if err != nil {
			s.log.Error("writing delivery state", "id", id, "err", err)
		}
	}
	s.markFinal(it, done)
	s.mu.Lock()
	if len(rec) > 0 {
		it.hasState = true
	}
	it.attempts, it.next, it.lastErr = attempts, next, lastErr
	// A pacing turn is kept in deferred mode too: the queue run that
	// started it goes on.
	it.turn = !counted && !turn.IsZero()
	if s.items[id] == it && !it.held && it.heapIdx < 0 {
		s.wait(it)
	}
	s.mu.Unlock()
}

// wait puts it into the waiting heap, or the heap of pacing turns. The
// caller holds s.mu.
func (s *Spool) wait(it *item) {
	if it.turn {
		heap.Push(&s.turns, it)
	} else {
		heap.Push(&s.waiting, it)
	}
}

// unwait takes it out of the heap it waits in, if any. The caller holds
// s.mu.
func (s *Spool) unwait(it *item) {
	switch {
	case it.heapIdx < 0:
	case it.turn:
		heap.Remove(&s.turns, it.heapIdx)
	default:
		heap.Remove(&s.waiting, it.heapIdx)
	}
}

func (s *Spool) markFinal(it *item, done []int) {
	s.mu.Lock()
	for _, i := range done {
		it.final[i] = true
	}
	s.mu.Unlock()
}

// finish removes a message that has nothing left to deliver.
func (s *Spool) finish(it *item) {
	if err := s.remove(it); err != nil {
		s.log.Error("removing delivered message", "id", it.env.ID, "err", err)
		return
	}
	s.forget(it)
}

// forget drops it from memory.
func (s *Spool) forget(it *item) {
	s.mu.Lock()
	if s.items[it.env.ID] == it {
		delete(s.items, it.env.ID)
	}
	s.dropMem(it)
	s.unwait(it)
	s.mu.Unlock()
}

// remove deletes a message's files: the queue file first, made durable,
// then the state. Were the state removed first, a crash could bring back
// a message with no record of its deliveries.
func (s *Spool) remove(it *item) error {
	id := it.env.ID
	if err := os.Remove(s.msgPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := s.group.syncRemoval(); err != nil {
		return err
	}
	s.mu.Lock()
	hasState := it.hasState
	s.mu.Unlock()
	if hasState {
		if err := os.Remove(s.statePath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("removing delivery state", "id", id, "err", err)
		}
	}
	return nil
}

// backoff is the delay before attempt n+1 after n failed attempts.
func (s *Spool) backoff(n int) time.Duration {
	d := s.opt.RetryInitial
	for i := 1; i < n && d < s.opt.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.opt.RetryMax)
}

// permanent reports whether a delivery error is a permanent failure: a
// reply with a 5xx code. Everything else is retried.
func permanent(err error) bool {
	var r *smtp.Reply
	return errors.As(err, &r) && r.Permanent()
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Items lists the messages in the queue as this process sees them, oldest
// first.
func (s *Spool) Items() []Item {
	s.mu.Lock()
	out := make([]Item, 0, len(s.items))
	for _, it := range s.items {
		item := makeItem(it.env, func(i int) bool { return it.final[i] }, it.attempts, it.lastErr, it.next)
		item.Held = it.held
		item.Slow = s.laneOf(it) == laneSlow
		out = append(out, item)
	}
	s.mu.Unlock()
	// Sorted after the lock: with a large queue the sort takes long
	// enough to hold up every commit and delivery waiting for it.
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// waitHeap orders waiting items by due time.
type waitHeap struct{ items []*item }

func (h *waitHeap) Len() int           { return len(h.items) }
func (h *waitHeap) Less(i, j int) bool { return h.items[i].next.Before(h.items[j].next) }
func (h *waitHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIdx = i
	h.items[j].heapIdx = j
}
func (h *waitHeap) Push(x any) {
	it := x.(*item)
	it.heapIdx = len(h.items)
	h.items = append(h.items, it)
}
func (h *waitHeap) Pop() any {
	n := len(h.items) - 1
	it := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	it.heapIdx = -1
	return it
}

// push adds it to the heap.
func (h *waitHeap) push(it *item) { heap.Push(h, it) }
