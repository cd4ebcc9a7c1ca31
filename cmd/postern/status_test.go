package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/alert"
	"postern/internal/config"
	"postern/internal/metrics"
	"postern/internal/spool"
)

func TestQueueStats(t *testing.T) {
	now := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	items := []spool.Item{
		{ID: "a", Arrived: now.Add(-2 * time.Hour), Attempts: 3, LastError: "451 timeout"},
		{ID: "b", Arrived: now.Add(-time.Minute)},
		{ID: "c", Arrived: now.Add(-3 * time.Hour), Attempts: 1, LastError: "451 4.7.1 " + alert.HeldPrefix + "sender x is suspended"},
	}
	q := queueStats(items, now)
	want := metrics.QueueStats{Messages: 3, Deferred: 1, Held: 1, OldestAge: 3 * time.Hour, OldestDeferredAge: 2 * time.Hour}
	if q != want {
		t.Errorf("got %+v\nwant %+v", q, want)
	}
}

func TestStatusWithoutServer(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfgPath, []byte(`hostname = "mx.example.test"
data_dir = "data"

[[listener]]
address = "127.0.0.1:2525"
mode = "mta"

[admin]
address = ""
`), 0o600)
	var out, errw bytes.Buffer
	if code := statusCmd([]string{"-config", cfgPath}, &out, &errw); code != 0 {
		t.Fatalf("exit %d: %s", code, errw.String())
	}
	for _, w := range []string{"NOT RUNNING", "admin listener is off", "127.0.0.1:2525", "Queue: 0 messages", "limits.max_recipients"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("status lacks %q:\n%s", w, out.String())
		}
	}
}

func TestPrintStatusLive(t *testing.T) {
	cfg := config.Default()
	now := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	st := staticStatus(cfg, now.Add(-time.Hour))
	st.Alerts = []string{"user a@example.org"}
	st.Rejects = []metrics.Reject{{Time: now, Client: "192.0.2.1", Stage: "rcpt", Code: 550, Rule: strings.Repeat("long rule ", 20)}}
	var b bytes.Buffer
	printStatus(&b, cfg, st, true, "", now)
	for _, w := range []string{"running since", "(1h0m0s)", "user a@example.org", "192.0.2.1", "rcpt", "550", "…"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("status lacks %q:\n%s", w, b.String())
		}
	}
}

func TestBlockCommandErrors(t *testing.T) {
	var out, errw bytes.Buffer
	// The embedded default has no maps_dir.
	if code := blockCmd([]string{"192.0.2.1"}, &out, &errw); code != 1 || !strings.Contains(errw.String(), "maps_dir") {
		t.Errorf("exit %d: %s", code, errw.String())
	}
	if code := blockCmd(nil, &out, &errw); code != 2 {
		t.Errorf("no argument: exit %d", code)
	}
}
