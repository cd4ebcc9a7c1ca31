package dmarcreport

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/testpeer"
)

// pgReporter is one node of a fleet: its own pool to the shared
// database and its own reporter.
func pgReporter(t *testing.T, url string, c *clock) (*Reporter, *Postgres) {
	t.Helper()
	b, err := NewPostgres(url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return testReporter(t, b, scheduleZone(t), c, 0), b
}

// Two nodes sharing one PostgreSQL database, ticking at the same moment
// again and again, send each report of the period exactly once, built
// from the evaluations of both nodes.
func TestPostgresFleetSendsOnce(t *testing.T) {
	pg := testpeer.StartPostgres(t)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{day.Add(24*time.Hour + 5*time.Minute)}
	a, ba := pgReporter(t, pg.URL, c)
	b, bb := pgReporter(t, pg.URL, c)
	// The first start is recorded once, before the day is over.
	c.now = day.Add(time.Hour)
	tick(t, a, nil)
	c.now = day.Add(24*time.Hour + 5*time.Minute)
	record(t, ba, day.Add(10*time.Hour), "example.com", twoMailboxes...)
	record(t, bb, day.Add(11*time.Hour), "example.com", twoMailboxes...)

	var mu sync.Mutex
	var sent []Outgoing
	send := func(_ context.Context, m Outgoing) error {
		time.Sleep(20 * time.Millisecond) // queueing takes a moment: the other node tries meanwhile
		mu.Lock()
		sent = append(sent, m)
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for _, rep := range []*Reporter{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if err := rep.Tick(context.Background(), send); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got := map[string]int{}
	for _, m := range sent {
		got[strings.Join(m.To, ",")]++
		fs, err := ExtractReports(m.Data)
		if err != nil || len(fs) != 1 || len(fs[0].Records) != 1 || fs[0].Records[0].Row.Count != 2 {
			t.Fatalf("report to %v: not the two nodes' evaluations together: %+v %v", m.To, fs, err)
		}
	}
	if len(sent) != 2 || got["dmarc@example.com"] != 1 || got["agg@reports.test"] != 1 {
		t.Fatalf("sent %d reports: %v, want one to each mailbox", len(sent), got)
	}
	if done, err := bb.Claimed(context.Background(), period{day, day.Add(24 * time.Hour)}.doneKey()); !done || err != nil {
		t.Fatalf("period not done: %v %v", done, err)
	}
}

// A node that took a report's lease and died holds it up only until the
// lease expires; then another node sends it.
func TestPostgresLeaseTakeover(t *testing.T) {
	pg := testpeer.StartPostgres(t)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{day.Add(time.Hour)}
	a, ba := pgReporter(t, pg.URL, c)
	tick(t, a, nil)
	c.now = day.Add(24*time.Hour + 5*time.Minute)
	record(t, ba, day.Add(10*time.Hour), "example.com", "mailto:dmarc@example.com")
	key := period{day, day.Add(24 * time.Hour)}.sentKey("example.com", "dmarc@example.com") + ".lease"
	if ok, err := ba.Lease(context.Background(), key, LeaseTTL); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	// The dead node's lease: nothing is sent, the period is not done.
	if sent := tick(t, a, nil); len(sent) != 0 {
		t.Fatalf("sent %d reports under another node's lease", len(sent))
	}
	pg.Exec(t, "UPDATE postern_dmarc_leases SET expires = now() - interval '1 second'")
	if sent := tick(t, a, nil); len(sent) != 1 {
		t.Fatalf("after the lease expired: %d reports, want 1", len(sent))
	}
	if sent := tick(t, a, nil); len(sent) != 0 {
		t.Fatalf("sent again: %d", len(sent))
	}
}
