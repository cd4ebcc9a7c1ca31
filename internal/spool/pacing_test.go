package spool

import (
	"context"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/envelope"
)

// busyErr is a destination's "not now" (as deliver.Busy).
type busyErr struct{ at time.Time }

func (e busyErr) Error() string      { return "busy" }
func (e busyErr) RetryAt() time.Time { return e.at }

// A recipient held back by pacing is tried again at its turn, and that
// is not an attempt: no count, no slow lane, no state written.
func TestPacedRecipients(t *testing.T) {
	clock := newClock()
	var tries sync.Map
	var calls atomic.Int32
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		calls.Add(1)
		errs := make([]error, len(rcpts))
		for i, r := range rcpts {
			n, _ := tries.LoadOrStore(r.Addr, new(atomic.Int32))
			k := n.(*atomic.Int32).Add(1)
			switch {
			case r.Addr == "fail@x":
				errs[i] = reply451
			case k <= 3:
				errs[i] = busyErr{at: clock.Now().Add(10 * time.Second)}
			}
		}
		return errs
	})
	dir := t.TempDir()
	s, _ := New(dir, c, testLog(t), Options{Now: clock.Now, SlowAfter: 2, RetryInitial: 5 * time.Minute})
	runSpool(t, s)
	id := submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "p@x"}}}, "x\r\n")
	for k := int32(1); k <= 3; k++ {
		waitFor(t, "paced try", func() bool { return calls.Load() == k })
		waitFor(t, "rescheduled", func() bool { it := s.Items(); return len(it) == 1 && it[0].NextAttempt.After(clock.Now()) })
		it := s.Items()[0]
		if it.Attempts != 0 || it.Slow {
			t.Fatalf("after a paced try: attempts %d, slow %v", it.Attempts, it.Slow)
		}
		if want := clock.Now().Add(10 * time.Second); !it.NextAttempt.Equal(want) {
			t.Errorf("next attempt %v, want the turn %v", it.NextAttempt, want)
		}
		if _, err := os.Stat(s.statePath(id)); err == nil {
			t.Error("a paced try wrote the state file")
		}
		clock.Advance(10 * time.Second)
		s.Kick()
	}
	waitFor(t, "delivered at its turn", func() bool { return len(s.Items()) == 0 })

	// Beside a real failure the attempt counts, and the next one comes at
	// the turn, sooner than the backoff.
	tries = sync.Map{}
	calls.Store(0)
	submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "p@x"}, {Addr: "fail@x"}}}, "x\r\n")
	waitFor(t, "counted attempt", func() bool { it := s.Items(); return len(it) == 1 && it[0].Attempts == 1 })
	if got, want := s.Items()[0].NextAttempt, clock.Now().Add(10*time.Second); !got.Equal(want) {
		t.Errorf("next attempt %v, want the turn %v (before the 5m backoff)", got, want)
	}
}

// In deferred mode a turn does not wait for the next queue run.
func TestPacedDeferredMode(t *testing.T) {
	clock := newClock()
	var calls atomic.Int32
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		if calls.Add(1) == 1 {
			return []error{busyErr{at: clock.Now().Add(time.Second)}}
		}
		return []error{nil}
	})
	s, _ := New(t.TempDir(), c, testLog(t), Options{Now: clock.Now, Deferred: true, QueueInterval: time.Hour})
	runSpool(t, s)
	submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "p@x"}}}, "x\r\n")
	if _, err := s.FlushAll(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "paced", func() bool { return calls.Load() == 1 })
	waitFor(t, "rescheduled", func() bool { it := s.Items(); return len(it) == 1 && it[0].NextAttempt.After(clock.Now()) })
	clock.Advance(time.Second)
	s.Kick()
	waitFor(t, "delivered at its turn, before the next queue run", func() bool { return len(s.Items()) == 0 })
}

// Requeue forgets the attempts and tries the message now; offline, the
// record does it at the next start.
func TestRequeue(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	var calls atomic.Int32
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		calls.Add(1)
		return []error{reply451}
	})
	s, _ := New(dir, c, testLog(t), Options{Now: clock.Now, SlowAfter: 2, RetryInitial: time.Minute})
	stop := runSpool(t, s)
	id := submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "b@y"}}}, "x\r\n")
	waitFor(t, "first try", func() bool { return s.Items()[0].Attempts == 1 })
	clock.Advance(time.Minute)
	s.Kick()
	waitFor(t, "second try", func() bool { return s.Items()[0].Attempts == 2 && s.Items()[0].Slow })
	if err := s.Requeue("NOPE"); err == nil {
		t.Error("requeue of an unknown id")
	}
	if err := s.Requeue(id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tried at once", func() bool { return calls.Load() == 3 })
	waitFor(t, "counted from zero", func() bool { it := s.Items()[0]; return it.Attempts == 1 && !it.Slow })
	stop()
	s.Close()

	// Offline: recorded, and the next start takes it at once with its
	// attempts forgotten.
	s2, err := New(dir, c, testLog(t), Options{Now: clock.Now, SlowAfter: 2, RetryInitial: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s2.RequeueAll(); err != nil || n != 1 {
		t.Fatalf("RequeueAll: %d, %v", n, err)
	}
	s2.Close()
	s3, err := New(dir, c, testLog(t), Options{Now: clock.Now, SlowAfter: 2, RetryInitial: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if it := s3.Items()[0]; it.Attempts != 0 {
		t.Errorf("after an offline requeue: %d attempts, want 0", it.Attempts)
	}
	runSpool(t, s3)
	waitFor(t, "tried at start", func() bool { return calls.Load() == 4 })
}
