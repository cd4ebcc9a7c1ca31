package tlsrpt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dmarcreport"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// txtTable answers TXT lookups from a table; a name mapped to nil fails
// for now (SERVFAIL), a name not in it does not exist.
type txtTable struct {
	mu sync.Mutex
	m  map[string][]string
}

func (tt *txtTable) LookupTXT(_ context.Context, name string) ([]string, error) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	v, ok := tt.m[name]
	switch {
	case !ok:
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	case v == nil:
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	return v, nil
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// rig is a store, the record of what was sent and a reporter on one
// directory, with a clock and a table of TLSRPT records.
type rig struct {
	dir   string
	clock *clock
	txt   *txtTable
	store *Store
	rep   *Reporter
	sent  []Mail
}

func newRig(t *testing.T, dir string, at time.Time, txt map[string][]string, client *http.Client) *rig {
	t.Helper()
	g := &rig{dir: dir, clock: &clock{t: at}, txt: &txtTable{m: txt}}
	var err error
	if g.store, err = OpenStore(dir, discard(), StoreOptions{Now: g.clock.now}); err != nil {
		t.Fatal(err)
	}
	claims, err := dmarcreport.NewFileBackend(dir, discard())
	if err != nil {
		t.Fatal(err)
	}
	g.rep, err = NewReporter(g.store, claims, g.txt, discard(), ReporterOptions{Submitter: "mx.sender.test",
		From: "tlsrpt@mx.sender.test", HTTPClient: client, Now: g.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func testReporter(t *testing.T, st *Store, client *http.Client) *Reporter {
	t.Helper()
	claims, err := dmarcreport.NewFileBackend(t.TempDir(), discard())
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReporter(st, claims, &txtTable{}, discard(), ReporterOptions{Submitter: "mx.sender.test", From: "tlsrpt@mx.sender.test", HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tick runs one Tick, keeping the mail it hands over.
func (g *rig) tick(t *testing.T) error {
	t.Helper()
	return g.rep.Tick(context.Background(), func(_ context.Context, m Mail) error {
		g.sent = append(g.sent, m)
		return nil
	})
}

var day0 = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

func stsPolicy(domain string) Policy {
	return Policy{Type: PolicySTS, Domain: domain, String: []string{"version: STSv1", "mode: enforce", "mx: mx." + domain, "max_age: 86400"},
		MXHost: []string{"mx." + domain}}
}

// Each complete day's report goes once to each rua; a domain whose
// record cannot be looked up now is tried again at the next tick, the
// others are not sent again.
func TestReporterSendsEachReportOnce(t *testing.T) {
	g := newRig(t, t.TempDir(), day0.Add(10*time.Hour), map[string][]string{
		"_smtp._tls.a.example": {"v=spf1 -all", "v=TLSRPTv1; rua=mailto:tls@a.example,mailto:copy@reports.example"},
		"_smtp._tls.c.example": nil,
	}, nil)
	for _, d := range []string{"a.example", "b.example", "c.example"} {
		g.store.Record(Session{Time: g.clock.now(), Policy: stsPolicy(d), MXHost: "mx." + d})
		g.store.Record(Session{Time: g.clock.now(), Policy: stsPolicy(d), Result: ResultCertificateHostMismatch, MXHost: "mx." + d})
	}
	if err := g.tick(t); err != nil || len(g.sent) != 0 {
		t.Fatalf("the day is not over: %d reports, %v", len(g.sent), err)
	}
	g.clock.set(day0.Add(25 * time.Hour))
	if err := g.tick(t); err == nil || !strings.Contains(err.Error(), "_smtp._tls.c.example") {
		t.Errorf("c.example's failed lookup not said: %v", err)
	}
	if len(g.sent) != 2 || g.sent[0].To != "tls@a.example" || g.sent[1].To != "copy@reports.example" {
		t.Fatalf("want a.example's report to both rua, got %+v", g.sent)
	}
	checkMail(t, g.sent[0], "a.example")
	if err := g.tick(t); err == nil || len(g.sent) != 2 {
		t.Errorf("sent again: %d, %v", len(g.sent), err)
	}
	g.txt.mu.Lock()
	g.txt.m["_smtp._tls.c.example"] = []string{"v=TLSRPTv1; rua=mailto:tls@c.example"}
	g.txt.mu.Unlock()
	if err := g.tick(t); err != nil || len(g.sent) != 3 || g.sent[2].To != "tls@c.example" {
		t.Fatalf("c.example not sent when its record came back: %v %+v", err, g.sent)
	}
	if g.sent[2].ReportID != "1773100800.c.example@mx.sender.test" {
		t.Errorf("report ID %q", g.sent[2].ReportID)
	}
	if err := g.tick(t); err != nil || len(g.sent) != 3 {
		t.Errorf("after the day is done: %d reports, %v", len(g.sent), err)
	}
}

// checkMail checks a report message against RFC 8460 5.3.
func checkMail(t *testing.T, m Mail, domain string) {
	t.Helper()
	rep := mailReport(t, m, domain)
	if rep.ReportID != m.ReportID || len(rep.Policies) != 1 || rep.Policies[0].Summary != (Summary{Successful: 1, Failed: 1}) ||
		rep.Policies[0].FailureDetails[0].ResultType != ResultCertificateHostMismatch || rep.ContactInfo != "tlsrpt@mx.sender.test" {
		t.Errorf("report %+v", rep)
	}
}

// mailReport checks a report message's headers and parts, and returns
// the report it carries.
func mailReport(t *testing.T, m Mail, domain string) Report {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if h.Get("TLS-Report-Domain") != domain || h.Get("TLS-Report-Submitter") != "mx.sender.test" {
		t.Errorf("TLS-Report headers: %q %q", h.Get("TLS-Report-Domain"), h.Get("TLS-Report-Submitter"))
	}
	if want := "Report Domain: " + domain + " Submitter: mx.sender.test Report-ID: <" + m.ReportID + ">"; h.Get("Subject") != want {
		t.Errorf("Subject %q, want %q", h.Get("Subject"), want)
	}
	if from, _ := mail.ParseAddress(h.Get("From")); from == nil || from.Address != "tlsrpt@mx.sender.test" || m.From != from.Address {
		t.Errorf("From %q, envelope %q", h.Get("From"), m.From)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("Content-Type %q", h.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	text, err := mr.NextPart()
	if err != nil || !strings.HasPrefix(text.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("first part: %v %v", text, err)
	}
	att, err := mr.NextPart()
	if err != nil || att.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
		t.Fatalf("second part: %v", err)
	}
	// RFC 8460 5.1: sender!policy-domain!begin!end[!unique-id].json.gz
	name := regexp.MustCompile(`^mx\.sender\.test!` + regexp.QuoteMeta(domain) + `!1773100800!1773187199![A-Za-z0-9]+\.json\.gz$`)
	if _, dp, _ := mime.ParseMediaType(att.Header.Get("Content-Disposition")); !name.MatchString(dp["filename"]) {
		t.Errorf("file name %q", dp["filename"])
	}
	raw, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, att))
	var rep Report
	if err := json.Unmarshal(gunzip(t, raw), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// A day missed while the server was down is sent after the restart,
// within Retention; what was sent before the restart is not sent again.
func TestReporterAfterRestart(t *testing.T) {
	dir := t.TempDir()
	txt := map[string][]string{"_smtp._tls.a.example": {"v=TLSRPTv1; rua=mailto:tls@a.example"}}
	g := newRig(t, dir, day0.Add(23*time.Hour), txt, nil)
	g.store.Record(Session{Time: g.clock.now(), Policy: stsPolicy("a.example"), MXHost: "mx.a.example"})
	if err := g.store.Close(); err != nil {
		t.Fatal(err)
	}
	// Down for two days.
	g = newRig(t, dir, day0.Add(3*24*time.Hour+time.Hour), txt, nil)
	g.store.Record(Session{Time: g.clock.now(), Policy: stsPolicy("a.example"), MXHost: "mx.a.example"})
	if err := g.tick(t); err != nil || len(g.sent) != 1 || !strings.HasPrefix(g.sent[0].ReportID, "1773100800.") {
		t.Fatalf("the missed day: %v %+v", err, g.sent)
	}
	g.store.Close()
	g = newRig(t, dir, day0.Add(3*24*time.Hour+2*time.Hour), txt, nil)
	if err := g.tick(t); err != nil || len(g.sent) != 0 {
		t.Errorf("sent again after a restart: %v %+v", err, g.sent)
	}
	g.clock.set(day0.Add(4*24*time.Hour + time.Hour))
	if err := g.tick(t); err != nil || len(g.sent) != 1 {
		t.Errorf("day 3's report: %v %d", err, len(g.sent))
	}
	// Past Retention the days' counts are gone; the record of what was
	// sent goes a day later, never before the counts it covers.
	g.clock.set(day0.Add(4*24*time.Hour + Retention + time.Hour))
	g.rep.prune()
	if days, _ := g.store.Days(); len(days) != 0 {
		t.Errorf("days kept past Retention: %v", days)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "sent", "aggregate-*")); len(left) == 0 {
		t.Error("claims gone with the counts")
	}
	g.clock.set(g.clock.now().Add(24 * time.Hour))
	g.rep.prune()
	if left, _ := filepath.Glob(filepath.Join(dir, "sent", "aggregate-*")); len(left) != 0 {
		t.Errorf("claims kept past Retention: %v", left)
	}
}

// https: destinations get a POST of the compressed report; one that
// fails rests for an hour, then gets the same report.
func TestReporterHTTPS(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	status := http.StatusServiceUnavailable
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		var rep Report
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/tlsrpt+gzip" || json.Unmarshal(gunzip(t, body), &rep) != nil {
			t.Errorf("%s %s %q", r.Method, r.URL, r.Header.Get("Content-Type"))
		}
		posts = append(posts, rep.ReportID)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	g := newRig(t, t.TempDir(), day0.Add(time.Hour), map[string][]string{
		"_smtp._tls.a.example": {"v=TLSRPTv1; rua=" + srv.URL + "/tlsrpt"}}, srv.Client())
	g.store.Record(Session{Time: g.clock.now(), Policy: stsPolicy("a.example"), MXHost: "mx.a.example"})
	g.clock.set(day0.Add(25 * time.Hour))
	if err := g.tick(t); err == nil || len(posts) != 1 {
		t.Fatalf("refused post: %v, %d posts", err, len(posts))
	}
	g.clock.set(day0.Add(25*time.Hour + 30*time.Minute))
	if g.tick(t); len(posts) != 1 {
		t.Errorf("posted again within the hour: %d", len(posts))
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	g.clock.set(day0.Add(26*time.Hour + time.Minute))
	if err := g.tick(t); err != nil || len(posts) != 2 || posts[0] != posts[1] {
		t.Fatalf("after the hour: %v %v", err, posts)
	}
	if g.tick(t); len(posts) != 2 {
		t.Errorf("posted again once accepted: %v", posts)
	}
}

// A report the spool refuses is handed over again at the next tick.
func TestReporterSendRefused(t *testing.T) {
	g := newRig(t, t.TempDir(), day0.Add(time.Hour), map[string][]string{
		"_smtp._tls.a.example": {"v=TLSRPTv1; rua=mailto:tls@a.example"}}, nil)
	g.store.Record(Session{Time: g.clock.now(), Policy: stsPolicy("a.example"), MXHost: "mx.a.example"})
	g.clock.set(day0.Add(25 * time.Hour))
	refuse := func(context.Context, Mail) error { return errors.New("spool full") }
	if err := g.rep.Tick(context.Background(), refuse); err == nil {
		t.Error("no error for a refused report")
	}
	if err := g.tick(t); err != nil || len(g.sent) != 1 {
		t.Errorf("not handed over again: %v %d", err, len(g.sent))
	}
}

// Without a usable record (none, two, one that does not parse) nothing
// is sent and the day is done.
func TestReporterNoUsableRecord(t *testing.T) {
	g := newRig(t, t.TempDir(), day0.Add(time.Hour), map[string][]string{
		"_smtp._tls.two.example": {"v=TLSRPTv1; rua=mailto:a@two.example", "v=TLSRPTv1; rua=mailto:b@two.example"},
		"_smtp._tls.bad.example": {"v=TLSRPTv1; rua=http://bad.example/"},
	}, nil)
	for _, d := range []string{"none.example", "two.example", "bad.example"} {
		g.store.Record(Session{Time: g.clock.now(), Policy: stsPolicy(d), MXHost: "mx." + d})
	}
	g.clock.set(day0.Add(25 * time.Hour))
	if err := g.tick(t); err != nil || len(g.sent) != 0 {
		t.Errorf("%v %+v", err, g.sent)
	}
	if _, err := os.Stat(filepath.Join(g.dir, "sent", dayPeriod(day0).doneKey())); err != nil {
		t.Errorf("day not done: %v", err)
	}
}

// fakeSigner signs for one domain, or fails.
type fakeSigner struct{ fail bool }

func (f *fakeSigner) Sign(_ context.Context, domain string, msg io.Reader) (string, error) {
	if f.fail {
		return "", errors.New("key unreadable")
	}
	io.Copy(io.Discard, msg)
	return "DKIM-Signature: v=1; d=" + domain + "\r\n", nil
}

// Mailed reports carry the submitter's DKIM signature; one that cannot
// be signed waits.
func TestReporterSigns(t *testing.T) {
	g := newRig(t, t.TempDir(), day0.Add(time.Hour), map[string][]string{
		"_smtp._tls.a.example": {"v=TLSRPTv1; rua=mailto:tls@a.example"}}, nil)
	sig := &fakeSigner{fail: true}
	g.rep.opt.Signer = sig
	g.store.Record(Session{Time: g.clock.now(), Policy: stsPolicy("a.example"), MXHost: "mx.a.example"})
	g.clock.set(day0.Add(25 * time.Hour))
	if err := g.tick(t); err == nil || len(g.sent) != 0 {
		t.Fatalf("sent unsigned: %v %d", err, len(g.sent))
	}
	sig.fail = false
	if err := g.tick(t); err != nil || len(g.sent) != 1 || !strings.HasPrefix(string(g.sent[0].Data), "DKIM-Signature: v=1; d=mx.sender.test\r\n") {
		t.Fatalf("signed report: %v %+v", err, g.sent)
	}
}

func TestPublicOnly(t *testing.T) {
	for ip, ok := range map[string]bool{"127.0.0.1": false, "10.1.2.3": false, "::1": false, "fe80::1": false, "0.0.0.0": false,
		"192.168.1.1": false, "fd00::1": false, "192.0.2.1": true, "2001:db8::1": true} {
		if err := PublicOnly("r.example", net.ParseIP(ip)); (err == nil) != ok {
			t.Errorf("%s: %v", ip, err)
		}
	}
}
