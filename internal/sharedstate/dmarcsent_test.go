package sharedstate

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/config"
	"postern/internal/dmarcreport"
	"postern/internal/ratelimit/redistest"
	"postern/internal/testpeer"
)

// The console's list of reports sent is read from the store the report
// sender claims its reports in: with Redis or PostgreSQL, a report one
// node claimed is listed on the other; a store that does not answer is
// an error naming it and the setting to check.
func TestDMARCSentShared(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		dmarcSentShared(t, config.RateLimit{Backend: "redis", RedisURL: srv.URL()}, srv.Stop, "redis_url")
	})
	t.Run("postgres", func(t *testing.T) {
		pg := testpeer.StartPostgres(t)
		dmarcSentShared(t, config.RateLimit{Backend: "postgres", PostgresURL: pg.URL}, pg.Stop, "postgres_url")
	})
}

func dmarcSentShared(t *testing.T, rl config.RateLimit, stop func(), setting string) {
	log := slog.New(slog.DiscardHandler)
	open := func() *Store {
		s, err := Open(&config.Config{RateLimit: rl}, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	// Node a sends a report of yesterday; node b's own directory is empty.
	store, err := a.DMARCStore(t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	key := "aggregate-" + strconv.FormatInt(day.Unix(), 10) + "-" + strconv.FormatInt(day.Add(24*time.Hour).Unix(), 10) + ".sent-0123456789abcdef01234567"
	if _, err := store.Claim(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	got, err := b.DMARCSent(t.TempDir()).Sent(context.Background(), day.Add(-time.Hour))
	if err != nil || len(got) != 1 || got[0].Reports != 1 || !got[0].Begin.Equal(day) {
		t.Fatalf("node b lists %+v, %v; want node a's report", got, err)
	}
	stop()
	_, err = b.DMARCSent(t.TempDir()).Sent(context.Background(), day.Add(-time.Hour))
	if err == nil || !strings.Contains(err.Error(), rl.Backend+" at ") || !strings.Contains(err.Error(), setting) {
		t.Errorf("store stopped: %v; want an error naming %s and %s", err, rl.Backend, setting)
	}
	t.Logf("the error the console shows: %v", err)
	// Without a shared store the node's own record is read.
	var own *Store
	if got, err := own.DMARCSent(t.TempDir()).Sent(context.Background(), day); err != nil || got != nil {
		t.Errorf("own record of an empty directory: %+v, %v", got, err)
	}
	var _ dmarcreport.SentLister = own.DMARCSent("")
}
