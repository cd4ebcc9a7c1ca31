package deliver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestPacer() (*pacer, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return newPacer(clk.now, slog.New(slog.DiscardHandler), 5*time.Minute, 20*time.Minute), clk
}

func wantBusy(t *testing.T, what string, err error) *Busy {
	t.Helper()
	var b *Busy
	if !errors.As(err, &b) {
		t.Fatalf("%s: %v, want a Busy result", what, err)
	}
	return b
}

func TestPacerRateDelay(t *testing.T) {
	p, clk := newTestPacer()
	gate := make(chan time.Time)
	var asked atomic.Int64
	p.after = func(d time.Duration) <-chan time.Time { asked.Store(int64(d)); return gate }
	ctx := context.Background()
	lim := DestinationLimits{Concurrency: 5, RateDelay: 10 * time.Second, RecipientLimit: 50}
	l, err := p.acquire(ctx, "slow.example", lim)
	if err != nil {
		t.Fatal(err)
	}
	// A rate delay makes the concurrency 1; one delivery waits to be
	// next, the others get turns, each later than the one before.
	next := make(chan *lease)
	go func() {
		l, err := p.acquire(ctx, "slow.example", lim)
		if err != nil {
			t.Error(err)
		}
		next <- l
	}()
	waitWaiters(t, p, "slow.example", 1)
	b1 := wantBusy(t, "third", func() error { _, err := p.acquire(ctx, "slow.example", lim); return err }())
	b2 := wantBusy(t, "fourth", func() error { _, err := p.acquire(ctx, "slow.example", lim); return err }())
	if !b2.At.After(b1.At) {
		t.Errorf("turns %v then %v: later results must get later turns", b1.At, b2.At)
	}
	if b1.At.Before(clk.now().Add(2 * lim.RateDelay)) {
		t.Errorf("first turn %v is sooner than two rate delays after now %v (one under way, one waiting)", b1.At, clk.now())
	}
	// The first ends; the waiter starts only when the delay has passed.
	clk.add(2 * time.Second)
	p.release(l, healthUp, "")
	end := clk.now()
	for asked.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if d := time.Duration(asked.Load()); d != lim.RateDelay {
		t.Errorf("the waiter waits %v, want the rate delay", d)
	}
	select {
	case <-next:
		t.Fatal("the next delivery started before the rate delay passed")
	case <-time.After(20 * time.Millisecond):
	}
	clk.add(lim.RateDelay)
	close(gate)
	l2 := <-next
	if l2 == nil || l2.start.Before(end.Add(lim.RateDelay)) {
		t.Fatalf("next delivery %+v, want it started a rate delay after %v", l2, end)
	}
	// Another destination is not affected.
	if _, err := p.acquire(ctx, "fast.example", DestinationLimits{Concurrency: 20, RecipientLimit: 50}); err != nil {
		t.Errorf("other destination: %v", err)
	}
}

func waitWaiters(t *testing.T, p *pacer, key string, n int) {
	t.Helper()
	for i := 0; ; i++ {
		p.mu.Lock()
		w := p.dests[key].waiters
		p.mu.Unlock()
		if w == n {
			return
		}
		if i > 5000 {
			t.Fatalf("%d waiters, want %d", w, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPacerConcurrencyAndWaiters(t *testing.T) {
	p, _ := newTestPacer()
	ctx := context.Background()
	lim := DestinationLimits{Concurrency: 2, RecipientLimit: 50}
	var leases []*lease
	for i := 0; i < 2; i++ {
		l, err := p.acquire(ctx, "d.example", lim)
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	// Two more wait for a place; the fifth is sent away.
	got := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			l, err := p.acquire(ctx, "d.example", lim)
			if err == nil {
				p.release(l, healthUp, "")
			}
			got <- err
		}()
	}
	waitWaiters(t, p, "d.example", 2)
	wantBusy(t, "fifth", func() error { _, err := p.acquire(ctx, "d.example", lim); return err }())
	for _, l := range leases {
		p.release(l, healthUp, "")
	}
	for i := 0; i < 2; i++ {
		if err := <-got; err != nil {
			t.Errorf("waiter: %v", err)
		}
	}
	// A waiter gives up when its context ends.
	l1, _ := p.acquire(ctx, "d.example", lim)
	l2, _ := p.acquire(ctx, "d.example", lim)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.acquire(cctx, "d.example", lim); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: %v", err)
	}
	p.release(l1, healthNeutral, "")
	p.release(l2, healthNeutral, "")
}

func TestPacerBackoff(t *testing.T) {
	p, clk := newTestPacer()
	ctx := context.Background()
	lim := DestinationLimits{Concurrency: 20, RecipientLimit: 50}
	l, _ := p.acquire(ctx, "down.example", lim)
	l2, _ := p.acquire(ctx, "down.example", lim)
	p.release(l, healthDown, "connection refused")
	p.release(l2, healthDown, "connection refused") // the same outage: counted once
	_, err := p.acquire(ctx, "down.example", lim)
	wantReply(t, "backed off", err, 451, "4.4.1")
	if bo := p.backedOff(); len(bo) != 1 || bo[0].Failures != 1 || bo[0].Reason != "connection refused" {
		t.Errorf("backedOff: %+v", bo)
	}
	// Other destinations are unaffected.
	if _, err := p.acquire(ctx, "up.example", lim); err != nil {
		t.Errorf("other destination: %v", err)
	}
	// After the back-off one session tries it; the others wait their turn.
	clk.add(5 * time.Minute)
	probe, err := p.acquire(ctx, "down.example", lim)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	wantBusy(t, "beside the probe", func() error { _, err := p.acquire(ctx, "down.example", lim); return err }())
	p.release(probe, healthDown, "421 busy")
	clk.add(9 * time.Minute)
	_, err = p.acquire(ctx, "down.example", lim)
	wantReply(t, "second back-off (10m)", err, 451, "4.4.1")
	clk.add(time.Minute)
	probe, err = p.acquire(ctx, "down.example", lim)
	if err != nil {
		t.Fatalf("second probe: %v", err)
	}
	p.release(probe, healthUp, "")
	for i := 0; i < 3; i++ {
		if _, err := p.acquire(ctx, "down.example", lim); err != nil {
			t.Errorf("after recovery, delivery %d: %v", i, err)
		}
	}
	if d := p.backoff(10); d != 20*time.Minute {
		t.Errorf("backoff(10) = %v, want the maximum 20m", d)
	}
	// A flush forgets the back-offs.
	p.release(&lease{key: "other.example", st: p.state("other.example", lim)}, healthDown, "x")
	if n := p.reset(); n != 1 {
		t.Errorf("reset: %d, want 1", n)
	}
	if len(p.backedOff()) != 0 {
		t.Errorf("still backed off after reset")
	}
}

func TestRemoteRecipientLimit(t *testing.T) {
	rx := startReceiver(t, &receiver{})
	r := newRemote(t, dnstest.Zone{"example.net. A": {"127.0.0.1"}}, rx.Port)
	r.DestinationRecipientLimit = 2
	env, rcpts, body := message("R1", "a@example.org", body1, "a@example.net", "b@example.net", "c@example.net", "d@example.net", "e@example.net")
	for i, err := range r.Deliver(context.Background(), env, rcpts, body) {
		if err != nil {
			t.Errorf("rcpt %d: %v", i, err)
		}
	}
	if n := len(rx.Data()); n != 3 {
		t.Errorf("%d transactions for 5 recipients at 2 each, want 3", n)
	}
	// A destination of its own can say otherwise.
	r2 := newRemote(t, dnstest.Zone{"example.net. A": {"127.0.0.1"}}, rx.Port)
	r2.Destinations = map[string]DestinationLimits{"example.net": {RecipientLimit: 4}}
	r2.Deliver(context.Background(), env, rcpts, body)
	if n := len(rx.Data()); n != 5 {
		t.Errorf("%d transactions in all, want 3+2", n)
	}
}

// TestRemoteBackoff: a destination whose server answers 421 is backed
// off, and its next messages are deferred without a connection, while
// another destination's mail goes on.
func TestRemoteBackoff(t *testing.T) {
	bad := startReceiver(t, &receiver{Reply: func(cmd string, n int) string {
		if len(cmd) >= 4 && cmd[:4] == "EHLO" {
			return "421 4.3.2 too busy, go away"
		}
		return ""
	}})
	good := startReceiver(t, &receiver{})
	zone := dnstest.Zone{"bad.example. A": {"127.0.0.1"}, "good.example. A": {"127.0.0.1"}}
	r := newRemote(t, zone, 0)
	// Each domain goes to its own receiver (a route names the port).
	ctx := context.Background()
	send := func(id, dom string, port int) error {
		env, rcpts, body := message(id, "a@example.org", body1, "x@"+dom)
		dest := Destination{Domain: dom, Hops: []Hop{{Host: "127.0.0.1", Port: port, NoMX: true}}}
		return r.DeliverTo(ctx, dest, env, rcpts, body)[0]
	}
	wantReply(t, "first to bad", send("B1", "bad.example", bad.Port), 421, "")
	conns := bad.conns.Load()
	for i := 0; i < 3; i++ {
		wantReply(t, "bad while backed off", send("B2", "bad.example", bad.Port), 451, "4.4.1")
	}
	if n := bad.conns.Load(); n != conns {
		t.Errorf("%d connections to the backed-off server, want none", n-conns)
	}
	for i := 0; i < 3; i++ {
		if err := send("G", "good.example", good.Port); err != nil {
			t.Errorf("good destination: %v", err)
		}
	}
	if bo := r.BackedOff(); len(bo) != 1 || bo[0].Dest != "[127.0.0.1]:"+strconv.Itoa(bad.Port) {
		t.Errorf("BackedOff: %+v", bo)
	}
	// A refused connection backs off too.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	send("C1", "closed.example", port)
	if len(r.BackedOff()) != 2 {
		t.Errorf("a refused connection did not back off: %+v", r.BackedOff())
	}
}
