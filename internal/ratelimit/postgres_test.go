package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"postern/internal/testpeer"
)

// A database that stops gives errors quickly, then ErrUnavailable for a
// second; once it is back, calls work again and the tables (created on
// first use) are still there.
func TestPostgresDown(t *testing.T) {
	pg := testpeer.StartPostgres(t)
	p, err := NewPostgres(PostgresOptions{URL: pg.URL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if err := p.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if out := pg.Exec(t, `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'postern_rate_%'`); out != "3" {
		t.Fatalf("tables created: %q, want 3", out)
	}
	// A read of a key never hit (no row) counts nothing.
	if r, err := p.Hit(ctx, "k", 0, time.Minute, 1); err != nil || !r.Allowed || r.Count != 0 {
		t.Fatalf("read of a missing key: %+v %v", r, err)
	}
	if r, err := p.Hit(ctx, "k", 1, time.Minute, 1); err != nil || !r.Allowed {
		t.Fatalf("hit: %+v %v", r, err)
	}
	pg.Stop()
	start := time.Now()
	if _, err := p.Hit(ctx, "k", 1, time.Minute, 1); err == nil {
		t.Fatal("no error from a stopped database")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
	if _, _, err := p.Get(ctx, "x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second call: %v, want ErrUnavailable", err)
	}
	pg.Start(t)
	time.Sleep(pause + 100*time.Millisecond)
	// The count survived: the second hit is over the limit of 1.
	if r, err := p.Hit(ctx, "k", 1, time.Minute, 1); err != nil || r.Allowed {
		t.Fatalf("after restart: %+v %v, want refused", r, err)
	}
	if _, err := NewPostgres(PostgresOptions{URL: "http://x y"}); err == nil {
		t.Fatal("bad URL accepted")
	}
}
