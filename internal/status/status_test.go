package status

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
	q := QueueStats(items, now)
	want := metrics.QueueStats{Messages: 3, Deferred: 1, Held: 1, OldestAge: 3 * time.Hour, OldestDeferredAge: 2 * time.Hour}
	if q != want {
		t.Errorf("got %+v\nwant %+v", q, want)
	}
}

func TestWriteLive(t *testing.T) {
	cfg := config.Default()
	now := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	st := Static(cfg, now.Add(-time.Hour))
	st.Alerts = []string{"user a@example.org"}
	st.Rejects = []metrics.Reject{{Time: now, Client: "192.0.2.1", Stage: "rcpt", Code: 550, Rule: strings.Repeat("long rule ", 20)}}
	var b bytes.Buffer
	Write(&b, cfg.Hostname, cfg.Admin.Address, st, true, "", now)
	for _, w := range []string{"running since", "(1h0m0s)", "user a@example.org", "192.0.2.1", "rcpt", "550", "…"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("status lacks %q:\n%s", w, b.String())
		}
	}
}

func TestWriteNotRunning(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "mx.example.test"
	st := Static(cfg, time.Time{})
	st.Problems = []string{"map access not reloaded"}
	var b bytes.Buffer
	Write(&b, cfg.Hostname, "127.0.0.1:8025", st, false, "no answer on 127.0.0.1:8025", time.Now())
	for _, w := range []string{"postern on mx.example.test: NOT RUNNING or not reachable: no answer on 127.0.0.1:8025", "PROBLEMS:\n  map access not reloaded",
		"admin        http        127.0.0.1:8025", "limits.max_recipients", "ratelimit.backend"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("status lacks %q:\n%s", w, b.String())
		}
	}
	if strings.Contains(b.String(), "Recent refusals") {
		t.Errorf("refusals of a server that does not run:\n%s", b.String())
	}
}

// The admin listener answers /status and /reload; Fetch and Reload say
// what they got, or why they got nothing.
func TestAdminClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/status" && r.Method == http.MethodGet:
			json.NewEncoder(w).Encode(metrics.Status{Hostname: "mx.example.test"})
		case r.URL.Path == "/reload" && r.Method == http.MethodPost:
			http.Error(w, "map access: bad line", http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	if st, live, why := Fetch(ctx, Endpoint{Address: addr}); !live || st.Hostname != "mx.example.test" || why != "" {
		t.Errorf("fetch: %+v %v %q", st, live, why)
	}
	if got := Reload(ctx, Endpoint{Address: addr}); got != "the server's reload failed (500 Internal Server Error): map access: bad line" {
		t.Errorf("reload: %q", got)
	}
	if _, live, why := Fetch(ctx, Endpoint{}); live || !strings.Contains(why, "admin listener is off") {
		t.Errorf("off: %v %q", live, why)
	}
	if got := Reload(ctx, Endpoint{}); !strings.Contains(got, "within 5 seconds") {
		t.Errorf("reload, off: %q", got)
	}
	srv.Close()
	if _, live, why := Fetch(ctx, Endpoint{Address: addr}); live || why != "no answer on "+addr {
		t.Errorf("closed: %v %q", live, why)
	}
}
