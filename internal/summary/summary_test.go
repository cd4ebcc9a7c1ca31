package summary

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dmarcreport"
	"postern/internal/history"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// reports is a fixed set of received reports.
type reports []*dmarcreport.Feedback

func (r reports) Load(since time.Time) ([]*dmarcreport.Feedback, error) { return r, nil }

func report(org, ip, from string, end time.Time, count int, pass bool) *dmarcreport.Feedback {
	res := "fail"
	if pass {
		res = "pass"
	}
	f := &dmarcreport.Feedback{}
	f.Metadata.OrgName = org
	f.Metadata.DateRange.Begin = dmarcreport.Int(end.Add(-24 * time.Hour).Unix())
	f.Metadata.DateRange.End = dmarcreport.Int(end.Unix())
	f.Policy.Domain = "example.org"
	var rec dmarcreport.Record
	rec.Row.SourceIP, rec.Row.Count = ip, dmarcreport.Int(count)
	rec.Row.PolicyEvaluated.DKIM, rec.Row.PolicyEvaluated.SPF = res, res
	rec.Identifiers.HeaderFrom = from
	f.Records = []dmarcreport.Record{rec}
	return f
}

type outbox struct {
	mu   sync.Mutex
	msgs []string
}

func (o *outbox) send(_ context.Context, m []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, string(m))
	return nil
}

func setup(t *testing.T, schedule string, rep reports) (*Reporter, *clock, *outbox, string, *history.Store) {
	c := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)} // a Tuesday
	dir := t.TempDir()
	h := history.Open(dir, nil)
	h.Now = c.now
	o := &outbox{}
	opt := Options{Schedule: schedule, Hostname: "mx.example.org", Postmaster: "postmaster@example.org", History: h,
		Queue: func() int { return 4 }, Alerts: func() []string { return []string{"user a@example.org"} },
		Send: o.send, Dir: dir, Now: c.now}
	if rep != nil {
		opt.Reports = rep
	}
	r, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return r, c, o, dir, h
}

func TestPeriods(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC) // Tuesday
	tests := []struct {
		schedule   string
		period     time.Duration
		start, end string
	}{
		{"daily", 0, "2026-03-09T00:00:00Z", "2026-03-10T00:00:00Z"},
		{"weekly", 0, "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"},
		{"", 5 * time.Minute, "2026-03-10T11:55:00Z", "2026-03-10T12:00:00Z"},
	}
	for _, tc := range tests {
		r := &Reporter{opt: Options{Schedule: tc.schedule, Period: tc.period}}
		s, e := r.last(now)
		if s.Format(time.RFC3339) != tc.start || e.Format(time.RFC3339) != tc.end {
			t.Errorf("%s %v: %v to %v, want %s to %s", tc.schedule, tc.period, s, e, tc.start, tc.end)
		}
	}
}

func TestOncePerPeriodAcrossRestart(t *testing.T) {
	r, c, o, dir, h := setup(t, "daily", nil)
	// Yesterday's figures.
	c.t = time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)
	h.Add(history.Accepted, 7)
	h.Add(history.RejectedPrefix+history.SPF, 2)
	c.t = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	r.Once(context.Background())
	r.Once(context.Background())
	if len(o.msgs) != 1 {
		t.Fatalf("%d mails, want 1", len(o.msgs))
	}
	m := o.msgs[0]
	for _, want := range []string{"accepted            7", "rejected            2", "spf               2",
		"Queue now: 4 messages", "user a@example.org", "2026-03-09 00:00 to 2026-03-10 00:00 UTC"} {
		if !strings.Contains(m, want) {
			t.Errorf("mail lacks %q:\n%s", want, m)
		}
	}
	// A restart reads the record: nothing again.
	r2, err := New(r.opt)
	if err != nil {
		t.Fatal(err)
	}
	r2.Once(context.Background())
	if len(o.msgs) != 1 {
		t.Fatalf("sent again after restart")
	}
	// Three days down: the latest period is sent, once.
	c.t = c.t.Add(72 * time.Hour)
	r3, _ := New(r.opt)
	r3.Once(context.Background())
	r3.Once(context.Background())
	if len(o.msgs) != 2 || !strings.Contains(o.msgs[1], "2026-03-12 00:00 to 2026-03-13 00:00") {
		t.Fatalf("missed period: %d mails", len(o.msgs))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, SentFile)); !strings.Contains(string(b), "2026-03-13T00:00:00Z") {
		t.Errorf("record: %q", b)
	}
}

func TestHostileReports(t *testing.T) {
	end := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	rep := reports{
		// Failed in the period before too: not new.
		report("Old", "192.0.2.1", "example.org", end.Add(-36*time.Hour), 3, false),
		report("Old", "192.0.2.1", "example.org", end.Add(-time.Hour), 5, false),
		// New failing source, with hostile names.
		report("Evil\r\nBcc: victim@example.net\x1b[31m", "198.51.100.7", "exa\u202emple.org\r\nX-Injected: 1", end.Add(-2*time.Hour), 9, false),
		report("Good", "203.0.113.5", "example.org", end.Add(-3*time.Hour), 100, true),
	}
	r, _, o, _, _ := setup(t, "daily", rep)
	r.sent = end.Add(-24 * time.Hour)
	r.Once(context.Background())
	if len(o.msgs) != 1 {
		t.Fatalf("%d mails", len(o.msgs))
	}
	m := o.msgs[0]
	head, body, _ := strings.Cut(m, "\r\n\r\n")
	if strings.Contains(head, "Bcc") || strings.Contains(head, "Injected") || strings.Count(head, "\r\n") != 8 {
		t.Errorf("header:\n%s", head)
	}
	for _, line := range strings.Split(body, "\r\n") {
		if strings.ContainsAny(line, "\r\n\x1b\u202e") || strings.HasPrefix(line, "Bcc:") || strings.HasPrefix(line, "X-Injected") {
			t.Errorf("unsafe line %q", line)
		}
	}
	for _, want := range []string{"received for the period: 3, from 3 reporters", "reporters: Evil??Bcc: victim@example.net?[31m, Good, Old", "messages 114: pass 100, fail 14",
		"198.51.100.7", "9 failing"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "192.0.2.1 ") {
		t.Errorf("old failing source listed as new:\n%s", body)
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.org", "example.org"},
		{"a\r\nb", "a??b"},
		{"\x1b[31mred", "?[31mred"},
		{"bidi\u202eevil", "bidi?evil"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{strings.Repeat("x", 300), strings.Repeat("x", maxField) + "..."},
	}
	for _, tc := range tests {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for in, want := range map[string]string{"post\r\nmaster@x y": "postmaster@xy", "pöst@exämple.org\u2028": "pöst@exämple.org", "a\xffb\tc": "abc"} {
		if got := headerSafe(in); got != want {
			t.Errorf("headerSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSent(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for an error
	}{
		{"postern-summary 1\nsent-through 2026-03-10T00:00:00Z\n", "2026-03-10T00:00:00Z"},
		{"postern-summary 1\nsent-through 2026-03-10T01:00:00+01:00\n", "2026-03-10T00:00:00Z"},
		{"", ""},
		{"postern-summary 2\nsent-through 2026-03-10T00:00:00Z\n", ""},
		{"postern-summary 1\nsent-through 2026-03-10T00:00:00Z", ""},
		{"postern-summary 1\nsent-through 2026-03-10T00:00:00Z\nmore\n", ""},
		{"postern-summary 1\nsent-through yesterday\n", ""},
	}
	for _, tc := range tests {
		got, err := parseSent([]byte(tc.in))
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseSent(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339) != tc.want {
			t.Errorf("parseSent(%q) = %v, %v, want %s", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseSent(f *testing.F) {
	f.Add([]byte("postern-summary 1\nsent-through 2026-03-10T00:00:00Z\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := parseSent(b)
		if err != nil {
			return
		}
		again, err := parseSent(formatSent(ts))
		if err != nil || !again.Equal(ts) {
			t.Fatalf("round trip: %v %v", again, err)
		}
	})
}
