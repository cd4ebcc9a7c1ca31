package spool

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/envelope"
)

// A message in the slow lane never takes the place of fresh mail: with
// one place in each lane and the slow message stuck in delivery, fresh
// mail is still delivered.
func TestSlowLane(t *testing.T) {
	clock := newClock()
	stuck := make(chan struct{})
	var slowTries atomic.Int32
	var fresh sync.Map
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		if rcpts[0].Addr == "slow@x" {
			if slowTries.Add(1) <= 2 {
				return []error{reply451}
			}
			<-stuck // the third try hangs, as a server that never answers
			return []error{reply451}
		}
		fresh.Store(rcpts[0].Addr, true)
		return []error{nil}
	})
	s, _ := New(t.TempDir(), c, testLog(t), Options{Now: clock.Now, MaxActive: 1, SlowActive: 1, SlowAfter: 2, RetryInitial: time.Minute})
	defer close(stuck)
	runSpool(t, s)
	submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "slow@x"}}}, "x\r\n")
	waitFor(t, "first try", func() bool { return slowTries.Load() == 1 && s.Items()[0].Attempts == 1 })
	if s.Items()[0].Slow {
		t.Error("slow lane after one attempt")
	}
	clock.Advance(time.Minute)
	s.Kick()
	waitFor(t, "second try", func() bool { return slowTries.Load() == 2 && s.Items()[0].Attempts == 2 })
	if !s.Items()[0].Slow {
		t.Error("not in the slow lane after SlowAfter attempts")
	}
	clock.Advance(2 * time.Minute)
	s.Kick()
	waitFor(t, "third try, stuck", func() bool { return slowTries.Load() == 3 })
	for _, r := range []string{"f1@x", "f2@x", "f3@x"} {
		submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: r}}}, "x\r\n")
	}
	waitFor(t, "fresh mail delivered past the stuck one", func() bool {
		n := 0
		fresh.Range(func(k, v any) bool { n++; return true })
		return n == 3
	})
}

// In deferred mode nothing is delivered until a queue run: a flush or
// the periodic run.
func TestDeferredMode(t *testing.T) {
	clock := newClock()
	var delivered sync.Map
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		delivered.Store(env.ID, true)
		return make([]error, len(rcpts))
	})
	s, _ := New(t.TempDir(), c, testLog(t), Options{Now: clock.Now, Deferred: true, QueueInterval: 15 * time.Minute})
	runSpool(t, s)
	one := submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "b@y"}}}, "x\r\n")
	two := submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "c@y"}}}, "x\r\n")
	s.Kick()
	time.Sleep(50 * time.Millisecond)
	if _, ok := delivered.Load(one); ok {
		t.Fatal("delivered in deferred mode without a queue run")
	}
	if err := s.Flush(one); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "flushed message", func() bool { _, ok := delivered.Load(one); return ok && len(s.Items()) == 1 })
	if _, ok := delivered.Load(two); ok {
		t.Fatal("flush of one message delivered another")
	}
	clock.Advance(15 * time.Minute)
	s.Kick()
	waitFor(t, "periodic queue run", func() bool { _, ok := delivered.Load(two); return ok && len(s.Items()) == 0 })
}

// Hold, flush, remove and bounce on a running spool.
func TestAdminOperations(t *testing.T) {
	clock := newClock()
	rec := newRecorder(t, func(rcpt string, try int) error { return reply451 })
	s, _ := New(t.TempDir(), rec, testLog(t), Options{Now: clock.Now, Hostname: "mx.example.test", RetryInitial: time.Hour})
	runSpool(t, s)
	a := submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "r1@y"}}}, "Subject: a\r\n\r\nx\r\n")
	b := submitEnv(t, s, &envelope.Envelope{From: "b@x", Rcpts: []envelope.Recipient{{Addr: "r2@y"}, {Addr: "r3@y", Notify: "NEVER"}}}, "Subject: b\r\n\r\nx\r\n")
	waitFor(t, "first attempts", func() bool {
		items := s.Items()
		return len(items) == 2 && items[0].Attempts == 1 && items[1].Attempts == 1
	})
	for _, err := range []error{s.Flush("NOPE"), s.Remove("NOPE"), s.Bounce("NOPE"), s.Hold("NOPE")} {
		if !errors.Is(err, ErrNotFound) && !strings.Contains(err.Error(), "no message") {
			t.Errorf("unknown id: %v", err)
		}
	}
	// Flush retries at once, before the hour is up.
	if err := s.Flush(a); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "flushed retry", func() bool { return rec.triesOf("r1@y") == 2 })
	if err := s.Hold(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(a); !errors.Is(err, ErrHeld) {
		t.Errorf("flush of a held message: %v", err)
	}
	if n, _ := s.FlushAll(); n != 1 {
		t.Errorf("FlushAll flushed %d, want 1 (the other is held)", n)
	}
	waitFor(t, "queue run", func() bool { return rec.triesOf("r2@y") == 2 })
	if rec.triesOf("r1@y") != 2 {
		t.Error("held message delivered")
	}
	// Bounce: the sender is told, for the recipients that asked.
	if err := s.Bounce(b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "admin bounce", func() bool { return len(rec.got()) == 1 })
	n := rec.got()[0]
	if n.to != "b@x" || len(n.rcpts) != 1 || n.rcpts[0].Get("Final-Recipient") != "rfc822; r2@y" || n.rcpts[0].Get("Status") != "5.0.0" {
		t.Errorf("admin bounce to %s: %v", n.to, n.rcpts)
	}
	// Remove: gone, no notice.
	if err := s.Remove(a); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "empty queue", func() bool { return len(s.Items()) == 0 && len(dirNames(t, s.qdir)) == 0 })
	if len(rec.got()) != 1 {
		t.Errorf("remove sent a notice")
	}
}

// Without a running server, flush is recorded and the next server tries
// the message at once, in deferred mode too; hold, release, remove and
// bounce work on the spool directly.
func TestOfflineOperations(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	rec := newRecorder(t, func(rcpt string, try int) error { return nil })
	s, _ := New(dir, rec, testLog(t), Options{Now: clock.Now, Deferred: true})
	one := submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "b@y"}}}, "x\r\n")
	two := submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "c@y"}}}, "x\r\n")
	three := submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "d@y"}}}, "x\r\n")
	if err := s.Flush(one); err != nil {
		t.Fatal(err)
	}
	if err := s.Bounce(three); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2, err := New(dir, rec, testLog(t), Options{Now: clock.Now, Deferred: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s2.Items()) != 3 { // one, two and the bounce of three
		t.Fatalf("items %+v", s2.Items())
	}
	runSpool(t, s2)
	waitFor(t, "flushed message delivered at start", func() bool { return rec.triesOf("b@y") == 1 })
	time.Sleep(50 * time.Millisecond)
	if rec.triesOf("c@y") != 0 || len(rec.got()) != 0 {
		t.Error("deferred mode delivered what was not flushed")
	}
	ids := map[string]bool{}
	for _, it := range s2.Items() {
		ids[it.ID] = true
	}
	if !ids[two] || len(ids) != 2 {
		t.Errorf("queue after start: %v", ids)
	}
}
