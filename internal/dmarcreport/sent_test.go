package dmarcreport

import (
	"context"
	"testing"
	"time"

	"postern/internal/ratelimit/redistest"
	"postern/internal/testpeer"
)

// The periods of the reports sent, from the file backend's claims.
func TestSentReports(t *testing.T) {
	dir := t.TempDir()
	b, err := NewFileBackend(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	p1, p2, old := period{day, day.Add(24 * time.Hour)}, period{day.Add(24 * time.Hour), day.Add(48 * time.Hour)}, period{day.AddDate(0, -2, 0), day.AddDate(0, -2, 1)}
	for _, key := range []string{p1.sentKey("example.org", "a@r.example"), p1.sentKey("example.net", "b@r.example"), p1.doneKey(),
		p2.sentKey("example.org", "a@r.example"), old.sentKey("example.org", "a@r.example"), startKey} {
		if _, err := b.Claim(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	got, err := SentReports(dir, day.AddDate(0, 0, -30))
	if err != nil {
		t.Fatal(err)
	}
	want := []SentPeriod{{Begin: p2.begin, End: p2.end, Reports: 1}, {Begin: p1.begin, End: p1.end, Reports: 2, Done: true}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, err := SentReports(t.TempDir(), day); err != nil || got != nil {
		t.Errorf("no record: %v %v", got, err)
	}
}

// With a shared store, any node lists the reports every node sent: two
// nodes each claim their reports, and either one's Sent lists both; a
// store that stops answering is an error, not an empty list.
func TestSentSharedStores(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		// A prefix with a pattern's characters must still match only itself.
		sentShared(t, redisNode(t, srv, "post*rn[1]:"), srv.Stop)
	})
	t.Run("postgres", func(t *testing.T) {
		pg := testpeer.StartPostgres(t)
		sentShared(t, postgresNode(t, pg), pg.Stop)
	})
}

func sentShared(t *testing.T, node func() Backend, stop func()) {
	ctx := context.Background()
	a, b := node(), node()
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	p1, p2, old := period{day, day.Add(24 * time.Hour)}, period{day.Add(24 * time.Hour), day.Add(48 * time.Hour)}, period{day.AddDate(0, -2, 0), day.AddDate(0, -2, 1)}
	claims := map[Backend][]string{
		a: {p1.sentKey("example.org", "a@r.example"), p1.doneKey(), old.sentKey("example.org", "a@r.example"), startKey},
		b: {p1.sentKey("example.net", "b@r.example"), p2.sentKey("example.org", "a@r.example")},
	}
	for be, keys := range claims {
		for _, key := range keys {
			if _, err := be.Claim(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Another fleet's keys under another prefix are not listed.
	if r, ok := a.(*Redis); ok {
		other := NewRedis(r.c, "postXrn1:")
		if _, err := other.Claim(ctx, p2.sentKey("other.example", "x@r.example")); err != nil {
			t.Fatal(err)
		}
	}
	want := []SentPeriod{{Begin: p2.begin, End: p2.end, Reports: 1}, {Begin: p1.begin, End: p1.end, Reports: 2, Done: true}}
	for _, be := range []Backend{a, b} {
		got, err := be.(SentLister).Sent(ctx, day.AddDate(0, 0, -30))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("sent = %+v, want %+v", got, want)
		}
	}
	stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if got, err := b.(SentLister).Sent(ctx, day.AddDate(0, 0, -30)); err == nil {
		t.Errorf("store stopped: sent = %+v and no error", got)
	}
}
