package tlsrpt

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"postern/internal/dmarcreport"
	"postern/internal/ratelimit/redistest"
	"postern/internal/testpeer"
)

// Two nodes sharing one Redis count the same domain's sessions; their
// reporters, ticking at the same moment, send one report for the fleet
// with both nodes' counts summed.
func TestRedisFleetSendsOnce(t *testing.T) {
	srv := redistest.Start(t)
	fleetSendsOnce(t, func() (Tally, Claims) {
		o, _ := redis.ParseURL(srv.URL())
		cl := redis.NewClient(o)
		t.Cleanup(func() { cl.Close() })
		return NewRedis(cl, "postern:"), dmarcreport.NewRedis(cl, "postern:")
	})
}

// The same with PostgreSQL.
func TestPostgresFleetSendsOnce(t *testing.T) {
	pg := testpeer.StartPostgres(t)
	fleetSendsOnce(t, func() (Tally, Claims) {
		b, err := dmarcreport.NewPostgres(pg.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return NewPostgres(b.Pool()), b
	})
}

// fleetSendsOnce runs two nodes, each with its own connection from node.
func fleetSendsOnce(t *testing.T, node func() (Tally, Claims)) {
	txt := &txtTable{m: map[string][]string{"_smtp._tls.a.example": {"v=TLSRPTv1; rua=mailto:tls@a.example"}}}
	c := &clock{t: day0.Add(25 * time.Hour)}
	var mu sync.Mutex
	var sent []Mail
	send := func(_ context.Context, m Mail) error {
		time.Sleep(20 * time.Millisecond) // the other node tries meanwhile
		mu.Lock()
		sent = append(sent, m)
		mu.Unlock()
		return nil
	}
	start := func() (*SharedStore, *Reporter) {
		tally, claims := node()
		st := NewSharedStore(tally, discard(), Limits{})
		rep, err := NewReporter(st, claims, txt, discard(),
			ReporterOptions{Submitter: "mx.sender.test", From: "tlsrpt@mx.sender.test", Now: c.now})
		if err != nil {
			t.Fatal(err)
		}
		return st, rep
	}
	sa, ra := start()
	sb, rb := start()
	at := day0.Add(10 * time.Hour)
	for i := 0; i < 3; i++ {
		sa.Record(Session{Time: at, Policy: stsPolicy("a.example"), MXHost: "mx.a.example"})
		sb.Record(Session{Time: at, Policy: stsPolicy("a.example"), MXHost: "mx.a.example"})
		sb.Record(Session{Time: at, Policy: stsPolicy("a.example"), Result: ResultCertificateExpired, MXHost: "mx.a.example"})
	}
	sa.Record(Session{Time: at, Policy: stsPolicy("a.example"), Result: ResultCertificateExpired, MXHost: "mx.a.example"})
	// Each node writes its counts every minute: both have before the
	// reports are due (Settle after the day).
	for _, st := range []*SharedStore{sa, sb} {
		if err := st.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	c.set(day0.Add(24*time.Hour + time.Minute))
	if ra.Tick(context.Background(), send); len(sent) != 0 {
		t.Fatal("sent before every node wrote its counts")
	}
	c.set(day0.Add(25 * time.Hour))
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for _, r := range []*Reporter{ra, rb} {
			wg.Add(1)
			go func() { defer wg.Done(); r.Tick(context.Background(), send) }()
		}
		wg.Wait()
	}
	if len(sent) != 1 {
		t.Fatalf("want one report for the fleet, got %d", len(sent))
	}
	pols := mailReport(t, sent[0], "a.example").Policies
	if len(pols) != 1 || pols[0].Summary.Successful != 6 || pols[0].Summary.Failed != 4 ||
		len(pols[0].FailureDetails) != 1 || pols[0].FailureDetails[0].FailedSessionCount != 4 {
		t.Errorf("summed counts: %+v", pols)
	}
}
