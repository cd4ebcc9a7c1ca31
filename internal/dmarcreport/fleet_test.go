package dmarcreport

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"postern/internal/ratelimit/redistest"
	"postern/internal/testpeer"
)

// Two nodes sharing one PostgreSQL database, ticking at the same moment
// again and again, send each report of the period exactly once, built
// from the evaluations of both nodes.
func TestPostgresFleetSendsOnce(t *testing.T) {
	fleetSendsOnce(t, postgresNode(t, testpeer.StartPostgres(t)))
}

// postgresNode gives a node's Backend on pg, one connection pool each.
func postgresNode(t *testing.T, pg *testpeer.Postgres) func() Backend {
	return func() Backend {
		b, err := NewPostgres(pg.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
}

// redisNode gives a node's Backend on srv under prefix, one client each.
func redisNode(t *testing.T, srv *redistest.Server, prefix string) func() Backend {
	return func() Backend {
		o, _ := redis.ParseURL(srv.URL())
		c := redis.NewClient(o)
		t.Cleanup(func() { c.Close() })
		return NewRedis(c, prefix)
	}
}

// The same with Redis.
func TestRedisFleetSendsOnce(t *testing.T) {
	fleetSendsOnce(t, redisNode(t, redistest.Start(t), "postern:"))
}

// fleetSendsOnce runs two nodes, each with its own connection from node.
func fleetSendsOnce(t *testing.T, node func() Backend) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{day.Add(24*time.Hour + 5*time.Minute)}
	srv := scheduleZone(t)
	ba, bb := node(), node()
	a, b := testReporter(t, ba, srv, c, 0), testReporter(t, bb, srv, c, 0)
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
	b, err := NewPostgres(pg.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	leaseTakeover(t, b, LeaseTTL, func() {
		pg.Exec(t, "UPDATE postern_dmarc_leases SET expires = now() - interval '1 second'")
	})
}

func TestRedisLeaseTakeover(t *testing.T) {
	srv := redistest.Start(t)
	o, _ := redis.ParseURL(srv.URL())
	c := redis.NewClient(o)
	defer c.Close()
	leaseTakeover(t, NewRedis(c, "postern:"), 300*time.Millisecond, func() { time.Sleep(400 * time.Millisecond) })
}

// leaseTakeover takes a report's lease for ttl as a node that dies, and
// expires it with expire.
func leaseTakeover(t *testing.T, b interface {
	Backend
	Leaser
}, ttl time.Duration, expire func()) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{day.Add(time.Hour)}
	a := testReporter(t, b, scheduleZone(t), c, 0)
	tick(t, a, nil)
	c.now = day.Add(24*time.Hour + 5*time.Minute)
	record(t, b, day.Add(10*time.Hour), "example.com", "mailto:dmarc@example.com")
	key := period{day, day.Add(24 * time.Hour)}.sentKey("example.com", "dmarc@example.com") + ".lease"
	if ok, err := b.Lease(context.Background(), key, ttl); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	// The dead node's lease: nothing is sent, the period is not done.
	if sent := tick(t, a, nil); len(sent) != 0 {
		t.Fatalf("sent %d reports under another node's lease", len(sent))
	}
	expire()
	if sent := tick(t, a, nil); len(sent) != 1 {
		t.Fatalf("after the lease expired: %d reports, want 1", len(sent))
	}
	if sent := tick(t, a, nil); len(sent) != 0 {
		t.Fatalf("sent again: %d", len(sent))
	}
}
