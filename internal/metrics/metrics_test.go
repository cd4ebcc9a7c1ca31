package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

func TestReasonKey(t *testing.T) {
	tests := map[string]string{
		"early talker: spoke before the greeting":             "early_talker",
		"no mailbox bob@example.org in local domain (config)": "no_mailbox",
		"no RELAY entry matches client 192.0.2.1":             "no",
		"relay access denied; client not trusted":             "relay_access_denied",
		"listed on zen.example.org":                           "listed_on",
		"":                                                    "other",
		"550 too bad":                                         "other",
		"greylisted, try again":                               "greylisted",
		"too many connections from this client per hour and more": "too_many_connections",
	}
	for in, want := range tests {
		if got := ReasonKey(in); got != want {
			t.Errorf("ReasonKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzReasonKey(f *testing.F) {
	f.Add("early talker: spoke before the greeting")
	f.Add("a: b")
	f.Fuzz(func(t *testing.T, s string) {
		k := ReasonKey(s)
		if k == "" || strings.ContainsAny(k, " :;,") {
			t.Fatalf("ReasonKey(%q) = %q", s, k)
		}
	})
}

func TestReasonsBounded(t *testing.T) {
	m := New()
	for i := 0; i < 200; i++ {
		m.Rejected(Reject{Stage: "rcpt", Code: 550, Rule: strings.Repeat("x", i%100+1) + " y"})
	}
	if n := testutil.CollectAndCount(m.rejects); n > maxReasons+1 {
		t.Errorf("%d reject series, want at most %d", n, maxReasons+1)
	}
	if got := len(m.RecentRejects()); got != 20 {
		t.Errorf("%d recent rejects, want 20", got)
	}
}

type fixedCourier []error

func (f fixedCourier) Deliver(context.Context, *envelope.Envelope, []envelope.Recipient, io.ReaderAt) []error {
	return f
}

func TestCheckerAndCourier(t *testing.T) {
	m := New()
	ch := &Checker{M: m, IsLocal: func(d string) bool { return d == "example.org" }}
	conn := &inbound.Conn{ID: "c1", Listener: "submission", Remote: netip.MustParseAddrPort("192.0.2.1:1000"), TLS: "TLSv1.3"}
	ch.CheckConnect(context.Background(), conn)
	ch.Rejected(context.Background(), conn, "rcpt", &inbound.Verdict{Reply: &smtp.Reply{Code: 554}, Rule: "relay access denied"})
	env := &envelope.Envelope{Listener: "submission", TLS: "TLSv1.3", AuthUser: "a@example.org", Size: 100,
		Rcpts: []envelope.Recipient{{Addr: "b@example.org"}, {Addr: "c@remote.example"}}, Received: time.Now().Add(-time.Second)}
	ch.Accepted(context.Background(), &inbound.Txn{Conn: conn, Env: env})
	ch.Closed(conn)

	oc := &ObservedCourier{M: m, Next: fixedCourier{nil, errors.New("timeout"), &smtp.Reply{Code: 550}}}
	oc.Deliver(context.Background(), env, make([]envelope.Recipient, 3), nil)

	checks := []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(m.connections.WithLabelValues("submission")), 1, "connections"},
		{testutil.ToFloat64(m.sessions.WithLabelValues("submission", "yes")), 1, "tls sessions"},
		{testutil.ToFloat64(m.rejects.WithLabelValues("rcpt", "554", "relay_access_denied")), 1, "rejects"},
		{testutil.ToFloat64(m.accepted.WithLabelValues("submission", "yes", "yes")), 1, "accepted"},
		{testutil.ToFloat64(m.outbound.WithLabelValues("a@example.org")), 1, "outbound"},
		{testutil.ToFloat64(m.deliveries.WithLabelValues("delivered")), 1, "delivered"},
		{testutil.ToFloat64(m.deliveries.WithLabelValues("deferred")), 1, "deferred"},
		{testutil.ToFloat64(m.deliveries.WithLabelValues("bounced")), 1, "bounced"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	var r Recorder = m
	r.AuthResult("spf", "pass")
	r.RateLimitHit("x")
	r.DNSBLHit("z")
	r.BackendError("redis")
	m.Alert("user")
	m.Delivered("delivered", 0)
	m.Rejected(Reject{})
	if m.Queue() != (QueueStats{}) || m.RecentRejects() != nil {
		t.Error("nil Metrics returned data")
	}
}

func TestAdminHandler(t *testing.T) {
	m := New()
	m.AuthResult("SPF", "Pass")
	m.DNSBLHit("zen.example.org.")
	m.RateLimitHit("connections_per_ip_per_hour")
	m.BackendError("redis")
	m.SetLimits(func() LimitsSnapshot {
		return LimitsSnapshot{Refusals: map[string]uint64{"connections_per_ip_per_hour": 2, "max_connections": 0},
			Backend: "redis", BackendErrors: 3, Open: 7}
	})
	m.SetQueue(func() QueueStats { return QueueStats{Messages: 3, Deferred: 1, OldestAge: time.Minute} })
	m.Rejected(Reject{Stage: "connect", Code: 554, Client: "192.0.2.9", Rule: "listed on zen"})
	reloads := 0
	srv := httptest.NewServer(m.Handler(AdminOptions{Status: Status{Hostname: "mx.example.org"},
		Alerts: func() []string { return []string{"user a@example.org"} },
		Reload: func() error { reloads++; return nil }}))
	defer srv.Close()

	body := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`postern_auth_results_total{method="spf",result="pass"} 1`,
		`postern_dnsbl_hits_total{zone="zen.example.org"} 1`,
		`postern_queue_messages 3`,
		`postern_queue_deferred_messages 1`,
		`postern_queue_oldest_message_age_seconds 60`,
		`postern_rejects_total{code="554",reason="listed_on_zen",stage="connect"} 1`,
		`postern_rejects_by_reason_total{reason="dnsbl"} 1`,
		`postern_ratelimit_hits_total{limit="connections_per_ip_per_hour"} 3`,
		`postern_ratelimit_hits_total{limit="max_connections"} 0`,
		`postern_backend_errors_total{backend="redis"} 4`,
		`postern_connections_open 7`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if got := get(t, srv.URL+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	if resp, err := http.Post(srv.URL+"/reload", "text/plain", nil); err != nil || resp.StatusCode != 200 || reloads != 1 {
		t.Errorf("POST /reload: %v %v, %d reloads", resp, err, reloads)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/reload", nil)
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden || reloads != 1 {
		t.Errorf("POST /reload from a web page: %v %v, %d reloads", resp, err, reloads)
	}
	if resp, err := http.Get(srv.URL + "/reload"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /reload: %v %v", resp, err)
	}
	var st Status
	if err := json.Unmarshal([]byte(get(t, srv.URL+"/status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Hostname != "mx.example.org" || st.Queue.Messages != 3 || len(st.Rejects) != 1 || st.Rejects[0].Client != "192.0.2.9" || len(st.Alerts) != 1 {
		t.Errorf("status = %+v", st)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s", url, resp.Status)
	}
	return string(b)
}

// The console is mounted under /console/, and / leads there.
func TestAdminHandlerConsole(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("console " + r.URL.Path)) })
	h := New().Handler(AdminOptions{Console: console})
	for target, want := range map[string]string{"/console/": "console /console/", "/console/queue/X": "console /console/queue/X"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if w.Body.String() != want {
			t.Errorf("%s: %q", target, w.Body)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/" {
		t.Errorf("/: %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	New().Handler(AdminOptions{}).ServeHTTP(w, httptest.NewRequest("GET", "/console/", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("without a console: %d", w.Code)
	}
}
