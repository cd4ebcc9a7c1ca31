package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func local(d string) bool { return d == "example.org" }

func newDetector(c *clock, opt Options) *Detector {
	opt.Now = c.now
	opt.IsLocal = local
	if opt.Window == 0 {
		opt.Window = time.Minute
	}
	opt.BaselineWindows, opt.Factor, opt.UserFloor, opt.HostFloor = 10, 3, 5, 1000
	return New(opt)
}

func TestSteadyTrafficDoesNotTrip(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	d := newDetector(c, Options{})
	// 12 messages a minute for an hour: up to 3 x 12 = 36 is allowed
	// once the baseline is known, 3 x 5 = 15 before.
	for min := 0; min < 60; min++ {
		for i := 0; i < 12; i++ {
			if evs := d.Outbound(context.Background(), "a@example.org"); len(evs) != 0 {
				t.Fatalf("minute %d: alert %+v", min, evs)
			}
			c.add(time.Minute / 12)
		}
	}
	// Quiet periods do not make the next steady minute a spike either.
	c.add(5 * time.Minute)
	for i := 0; i < 12; i++ {
		if evs := d.Outbound(context.Background(), "a@example.org"); len(evs) != 0 {
			t.Fatalf("after a pause: alert %+v", evs)
		}
	}
	if d.Limited("a@example.org") || len(d.Active()) != 0 {
		t.Error("limited without an alert")
	}
}

func TestBurstTrips(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	var hooks []Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || r.Method != http.MethodPost {
			t.Errorf("webhook: %s %v", r.Method, err)
		}
		mu.Lock()
		hooks = append(hooks, ev)
		mu.Unlock()
	}))
	defer srv.Close()
	var mails [][]byte
	d := newDetector(c, Options{Action: Hold, Duration: time.Hour, Webhook: srv.URL, Hostname: "mx.example.org",
		Notify: func(_ context.Context, m []byte) error {
			mu.Lock()
			mails = append(mails, m)
			mu.Unlock()
			return nil
		}})
	// A steady 4 a minute for ten minutes, then a burst.
	for min := 0; min < 10; min++ {
		for i := 0; i < 4; i++ {
			d.Outbound(context.Background(), "a@example.org")
		}
		c.add(time.Minute)
	}
	var evs []Event
	n := 0
	for n = 1; n <= 100 && len(evs) == 0; n++ {
		evs = d.Outbound(context.Background(), "a@example.org")
	}
	if len(evs) != 1 || evs[0].Scope != "user" || evs[0].User != "a@example.org" {
		t.Fatalf("alerts %+v", evs)
	}
	// 3 x max(baseline 4, floor 5) = 15: the 16th message trips.
	if n-1 != 16 || evs[0].Count != 16 || evs[0].Limit != 15 {
		t.Errorf("tripped at message %d: %+v", n-1, evs[0])
	}
	// More of the burst does not alert again while the alert lasts.
	if more := d.Outbound(context.Background(), "a@example.org"); len(more) != 0 {
		t.Errorf("second alert %+v", more)
	}
	d.Wait()
	if len(hooks) != 1 || hooks[0].User != "a@example.org" || hooks[0].Action != "hold" {
		t.Errorf("webhooks %+v", hooks)
	}
	if len(mails) != 1 || !strings.Contains(string(mails[0]), "outbound mail spike: user a@example.org") ||
		!strings.Contains(string(mails[0]), "postern user suspend a@example.org") {
		t.Errorf("mails %q", mails)
	}
	// The action: other users are not affected; this one's mail is held.
	ch := &Checker{D: d}
	out := &inbound.Txn{Conn: &inbound.Conn{AuthUser: "a@example.org"},
		Env: &envelope.Envelope{AuthUser: "a@example.org", Rcpts: []envelope.Recipient{{Addr: "x@remote.example"}}}}
	if v := ch.CheckData(context.Background(), out, nil); v == nil || v.Action != inbound.Hold {
		t.Errorf("verdict %+v, want hold", v)
	}
	other := &inbound.Txn{Conn: &inbound.Conn{AuthUser: "b@example.org"}, Env: out.Env}
	if v := ch.CheckData(context.Background(), other, nil); v != nil {
		t.Errorf("other user: verdict %+v", v)
	}
	in := &inbound.Txn{Conn: out.Conn, Env: &envelope.Envelope{Rcpts: []envelope.Recipient{{Addr: "y@example.org"}}}}
	if v := ch.CheckData(context.Background(), in, nil); v != nil {
		t.Errorf("local mail: verdict %+v", v)
	}
	if got := d.Active(); len(got) != 1 || got[0] != "user a@example.org" {
		t.Errorf("Active = %v", got)
	}
	// The alert ends after its duration.
	c.add(61 * time.Minute)
	if d.Limited("a@example.org") {
		t.Error("still limited after the duration")
	}
}

func TestRefuseAndHostScope(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	d := newDetector(c, Options{Action: Refuse})
	d.opt.HostFloor = 2
	var evs []Event
	for i := 0; i < 7 && len(evs) == 0; i++ {
		evs = d.Outbound(context.Background(), "") // trusted network, no user
	}
	if len(evs) != 1 || evs[0].Scope != "host" {
		t.Fatalf("alerts %+v", evs)
	}
	ch := &Checker{D: d}
	txn := &inbound.Txn{Conn: &inbound.Conn{AuthUser: "b@example.org"}, Env: &envelope.Envelope{}}
	v := ch.CheckRcpt(context.Background(), txn, smtp.Path{}, &envelope.Recipient{Addr: "x@remote.example"})
	if v == nil || v.Reply == nil || v.Reply.Code != 451 {
		t.Errorf("remote rcpt under host alert: %+v", v)
	}
	if v := ch.CheckRcpt(context.Background(), txn, smtp.Path{}, &envelope.Recipient{Addr: "x@example.org"}); v != nil {
		t.Errorf("local rcpt refused: %+v", v)
	}
}

type recorder struct{ n int }

func (r *recorder) Deliver(context.Context, *envelope.Envelope, []envelope.Recipient, io.ReaderAt) []error {
	r.n++
	return []error{nil}
}

func TestSuspendedAndRevoked(t *testing.T) {
	accounts := func(u string) (bool, bool) { return u == "s@example.org", u == "r@example.org" }
	ch := &Checker{Accounts: accounts}
	txn := func(u string) *inbound.Txn {
		return &inbound.Txn{Conn: &inbound.Conn{AuthUser: u}, Env: &envelope.Envelope{AuthUser: u}}
	}
	if v := ch.CheckData(context.Background(), txn("s@example.org"), nil); v == nil || v.Action != inbound.Hold {
		t.Errorf("suspended: %+v", v)
	}
	if v := ch.CheckMail(context.Background(), txn("r@example.org")); v == nil || v.Reply.Code != 530 || !v.Disconnect {
		t.Errorf("revoked: %+v", v)
	}
	if v := ch.CheckMail(context.Background(), txn("ok@example.org")); v != nil {
		t.Errorf("active user: %+v", v)
	}
	next := &recorder{}
	hc := &HoldCourier{Next: next, Accounts: accounts}
	errs := hc.Deliver(context.Background(), &envelope.Envelope{AuthUser: "s@example.org"}, make([]envelope.Recipient, 2), nil)
	var r *smtp.Reply
	if len(errs) != 2 || !errors.As(errs[0], &r) || r.Permanent() || next.n != 0 {
		t.Errorf("suspended sender delivered: %v", errs)
	}
	errs = hc.Deliver(context.Background(), &envelope.Envelope{Hold: true}, make([]envelope.Recipient, 1), nil)
	if errs[0] == nil || next.n != 0 {
		t.Errorf("held message delivered")
	}
	if errs := hc.Deliver(context.Background(), &envelope.Envelope{AuthUser: "ok@example.org"}, make([]envelope.Recipient, 1), nil); errs[0] != nil || next.n != 1 {
		t.Errorf("active sender not delivered: %v", errs)
	}
	// Users nobody can read: a user's mail waits, a system user's leaves.
	hc.Unknown = func() string { return "users table t: connection refused" }
	if errs := hc.Deliver(context.Background(), &envelope.Envelope{AuthUser: "ok@example.org"}, make([]envelope.Recipient, 1), nil); !errors.As(errs[0], &r) || r.Code != 451 || next.n != 1 {
		t.Errorf("with the users unknown: %v", errs)
	}
	if errs := hc.Deliver(context.Background(), &envelope.Envelope{AuthUser: "www-data"}, make([]envelope.Recipient, 1), nil); errs[0] != nil || next.n != 2 {
		t.Errorf("a system user's mail with the users unknown: %v", errs)
	}
}

func TestParseAction(t *testing.T) {
	for s, want := range map[string]Action{"log": Log, "hold": Hold, "refuse": Refuse} {
		if a, err := ParseAction(s); err != nil || a != want || a.String() != s {
			t.Errorf("%s: %v %v", s, a, err)
		}
	}
	if _, err := ParseAction("drop"); err == nil {
		t.Error("drop accepted")
	}
}

// A notice goes to the webhook as JSON and to the postmaster as mail; a
// nil Detector (alerts off) does nothing.
func TestNotice(t *testing.T) {
	got := make(chan Notice, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n Notice
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook: %v", err)
		}
		got <- n
	}))
	defer srv.Close()
	mails := make(chan []byte, 1)
	c := &clock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	d := newDetector(c, Options{Action: Hold, Duration: time.Hour, Webhook: srv.URL, Hostname: "mx.example.org",
		Notify: func(_ context.Context, m []byte) error { mails <- m; return nil }})
	d.Notice(context.Background(), "change-rejected", "change rejected: /etc/mail/access", "line one\nline two\n")
	d.Wait()
	n := <-got
	if n.Kind != "change-rejected" || n.Host != "mx.example.org" || n.Text != "line one\nline two\n" {
		t.Fatalf("webhook got %+v", n)
	}
	m := string(<-mails)
	if !strings.Contains(m, "Subject: [postern] change rejected: /etc/mail/access\r\n") || !strings.HasSuffix(m, "\r\n\r\nline one\r\nline two\r\n") {
		t.Fatalf("mail:\n%s", m)
	}
	var off *Detector
	off.Notice(context.Background(), "x", "y", "z")
}
