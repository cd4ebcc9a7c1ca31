package dmarcreport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"postern/internal/dnstest"
)

// tick runs one Tick and returns what it sent; refuse, when not nil,
// makes send fail for the messages it returns an error for.
func tick(t *testing.T, rep *Reporter, refuse func(Outgoing) error) []Outgoing {
	t.Helper()
	sent, err := tickErr(rep, refuse)
	if err != nil && refuse == nil {
		t.Fatal(err)
	}
	return sent
}

func tickErr(rep *Reporter, refuse func(Outgoing) error) ([]Outgoing, error) {
	var sent []Outgoing
	err := rep.Tick(context.Background(), func(_ context.Context, m Outgoing) error {
		if refuse != nil {
			if err := refuse(m); err != nil {
				return err
			}
		}
		sent = append(sent, m)
		return nil
	})
	return sent, err
}

// scheduleZone lets reports.test receive example.com's reports.
func scheduleZone(t *testing.T) *dnstest.Server {
	return dnstest.Start(t, dnstest.Zone{"example.com._report._dmarc.reports.test TXT": {"v=DMARC1"}})
}

// clock is the fake time of a test.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// scheduleReporter opens the store in dir (as after a restart) and a
// reporter over it.
func scheduleReporter(t *testing.T, dir string, srv *dnstest.Server, c *clock, interval time.Duration) (*Reporter, *FileBackend) {
	t.Helper()
	b, err := NewFileBackend(dir, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return testReporter(t, b, srv, c, interval), b
}

// testReporter is a reporter over b.
func testReporter(t *testing.T, b Backend, srv *dnstest.Server, c *clock, interval time.Duration) *Reporter {
	t.Helper()
	rep, err := NewReporter(b, srv.Resolver(), testLog(), ReporterOptions{ReceiverDomain: "mx.receiver.test",
		From: "dmarc-reports@mx.receiver.test", Interval: interval, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// record appends one evaluation of mail from dom, whose record asks for
// reports to rua.
func record(t *testing.T, b Backend, at time.Time, dom string, rua ...string) {
	t.Helper()
	e := Evaluation{Time: at, SourceIP: "192.0.2.1", HeaderFrom: dom, EnvelopeFrom: dom,
		SPF: SPFAuth{Domain: dom, Scope: "mfrom", Result: "pass"}, Result: "pass", Disposition: "none",
		Policy: &Published{Domain: dom, ADKIM: "r", ASPF: "r", P: "none", SP: "none", Pct: 100, FO: "0", RUA: rua}}
	if err := b.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

var twoMailboxes = []string{"mailto:dmarc@example.com", "mailto:agg@reports.test"}

// reportOf reads back the report_id, date range and Message-ID of a report message.
func reportOf(t *testing.T, m Outgoing) (id string, begin int64, msgID string) {
	t.Helper()
	fs, err := ExtractReports(m.Data)
	if err != nil || len(fs) != 1 {
		t.Fatalf("reading back: %d reports, %v", len(fs), err)
	}
	ent, err := message.Read(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if subj := ent.Header.Get("Subject"); !strings.HasSuffix(subj, "Report-ID: <"+fs[0].Metadata.ReportID+">") {
		t.Errorf("subject %q does not carry report_id %q", subj, fs[0].Metadata.ReportID)
	}
	return fs[0].Metadata.ReportID, int64(fs[0].Metadata.DateRange.Begin), ent.Header.Get("Message-Id")
}

func rcpts(msgs []Outgoing) string {
	var s []string
	for _, m := range msgs {
		s = append(s, strings.Join(m.To, ","))
	}
	return strings.Join(s, " ")
}

// A report that send refuses is sent at the next tick, and only it.
func TestTickRetriesRefused(t *testing.T) {
	srv := scheduleZone(t)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{day.Add(24*time.Hour + 5*time.Minute)}
	rep, b := scheduleReporter(t, t.TempDir(), srv, c, 0)
	record(t, b, day.Add(10*time.Hour), "example.com", twoMailboxes...)

	sent, err := tickErr(rep, func(m Outgoing) error {
		if m.To[0] == "agg@reports.test" {
			return errors.New("spool full")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "1 reports not queued") {
		t.Errorf("tick error %v", err)
	}
	if got := rcpts(sent); got != "dmarc@example.com" {
		t.Fatalf("first tick sent to %q", got)
	}
	c.now = c.now.Add(10 * time.Minute)
	again := tick(t, rep, nil)
	if got := rcpts(again); got != "agg@reports.test" {
		t.Fatalf("second tick sent to %q, want only the refused one", got)
	}
	id1, _, _ := reportOf(t, sent[0])
	id2, _, _ := reportOf(t, again[0])
	if id1 != id2 {
		t.Errorf("one report, two IDs: %q and %q", id1, id2)
	}
	c.now = c.now.Add(10 * time.Minute)
	if more := tick(t, rep, nil); len(more) != 0 {
		t.Errorf("third tick sent to %q", rcpts(more))
	}
	if _, err := os.Stat(filepath.Join(b.dir, "sent", period{day, day.Add(24 * time.Hour)}.doneKey())); err != nil {
		t.Errorf("period not recorded as done: %v", err)
	}
}

// A destination whose verification record cannot be looked up for the
// moment (SERVFAIL) is neither sent to nor given up: the other one goes
// out, and it goes out at a later tick once DNS answers.
func TestTickDestinationTryLater(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"example.com._report._dmarc.reports.test SERVFAIL": {}})
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{day.Add(24*time.Hour + 5*time.Minute)}
	rep, b := scheduleReporter(t, t.TempDir(), srv, c, 0)
	record(t, b, day.Add(10*time.Hour), "example.com", twoMailboxes...)

	sent, err := tickErr(rep, nil)
	if err == nil {
		t.Error("no error for the destination that could not be checked")
	}
	if got := rcpts(sent); got != "dmarc@example.com" {
		t.Fatalf("first tick sent to %q", got)
	}
	c.now = c.now.Add(10 * time.Minute)
	if again, _ := tickErr(rep, nil); len(again) != 0 {
		t.Fatalf("DNS still failing, second tick sent to %q", rcpts(again))
	}
	if err := srv.Set(dnstest.Zone{"example.com._report._dmarc.reports.test TXT": {"v=DMARC1"}}); err != nil {
		t.Fatal(err)
	}
	c.now = c.now.Add(10 * time.Minute)
	if got := rcpts(tick(t, rep, nil)); got != "agg@reports.test" {
		t.Fatalf("after DNS recovered, sent to %q, want only the unchecked one", got)
	}
	c.now = c.now.Add(10 * time.Minute)
	if more := tick(t, rep, nil); len(more) != 0 {
		t.Errorf("then sent to %q", rcpts(more))
	}
}

// A crash after the spool took a report but before it was recorded: the
// next start sends it again with the same Report-ID and Message-ID, and
// the reports not sent yet.
func TestTickAfterCrash(t *testing.T) {
	srv := scheduleZone(t)
	dir := t.TempDir()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{day.Add(24*time.Hour + 5*time.Minute)}
	rep, b := scheduleReporter(t, dir, srv, c, 0)
	record(t, b, day.Add(10*time.Hour), "example.com", twoMailboxes...)

	var queued []Outgoing
	crashed := make(chan struct{})
	go func() {
		defer close(crashed)
		rep.Tick(context.Background(), func(_ context.Context, m Outgoing) error {
			queued = append(queued, m)
			runtime.Goexit() // the process dies with the report in the spool
			return nil
		})
	}()
	<-crashed
	if len(queued) != 1 {
		t.Fatalf("%d reports queued before the crash", len(queued))
	}

	c.now = c.now.Add(time.Minute)
	rep2, _ := scheduleReporter(t, dir, srv, c, 0)
	sent := tick(t, rep2, nil)
	if got := rcpts(sent); got != "dmarc@example.com agg@reports.test" {
		t.Fatalf("after the crash sent to %q", got)
	}
	if sent[0].To[0] != queued[0].To[0] {
		t.Fatalf("resent to %s, queued to %s", sent[0].To[0], queued[0].To[0])
	}
	id1, _, mid1 := reportOf(t, queued[0])
	id2, _, mid2 := reportOf(t, sent[0])
	if id1 != id2 || mid1 != mid2 || id1 == "" || mid1 == "" {
		t.Errorf("the duplicate differs: report IDs %q %q, Message-IDs %q %q", id1, id2, mid1, mid2)
	}
	if _, _, mid3 := reportOf(t, sent[1]); mid3 == mid1 {
		t.Errorf("two mailboxes, one Message-ID %q", mid3)
	}
	c.now = c.now.Add(time.Hour)
	if more := tick(t, rep2, nil); len(more) != 0 {
		t.Errorf("then sent to %q", rcpts(more))
	}
}

// Down over three period ends: each of the three periods is reported
// once, oldest first.
func TestTickAfterDowntime(t *testing.T) {
	srv := scheduleZone(t)
	dir := t.TempDir()
	d1 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	c := &clock{d1.Add(5 * time.Minute)}
	rep, b := scheduleReporter(t, dir, srv, c, 0)
	if sent := tick(t, rep, nil); len(sent) != 0 { // running; nothing to report yet
		t.Fatalf("sent %q", rcpts(sent))
	}
	// Mail is recorded on three days while reports do not run (the
	// report task was stopped; the store is the same).
	for i := range 3 {
		record(t, b, d1.Add(time.Duration(i)*24*time.Hour+23*time.Hour), "example.com", "mailto:dmarc@example.com")
	}
	c.now = d1.Add(3*24*time.Hour + time.Hour)
	rep2, _ := scheduleReporter(t, dir, srv, c, 0)
	sent := tick(t, rep2, nil)
	if len(sent) != 3 {
		t.Fatalf("after the downtime %d reports, want 3", len(sent))
	}
	seen := map[string]bool{}
	for i, m := range sent {
		id, begin, _ := reportOf(t, m)
		if want := d1.Add(time.Duration(i) * 24 * time.Hour).Unix(); begin != want {
			t.Errorf("report %d begins %s, want %s", i, time.Unix(begin, 0).UTC(), time.Unix(want, 0).UTC())
		}
		if seen[id] {
			t.Errorf("report ID %q twice", id)
		}
		seen[id] = true
	}
	for range 5 {
		c.now = c.now.Add(3 * time.Hour)
		if more := tick(t, rep2, nil); len(more) != 0 {
			t.Errorf("then sent to %q", rcpts(more))
		}
	}
}

// With one-minute periods (a test set-up) each minute's mail gets its
// own report once the minute ends, and a tick looks back MaxCatchUp
// periods, not a week of minutes.
func TestTickMinutePeriods(t *testing.T) {
	srv := scheduleZone(t)
	d := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	c := &clock{d.Add(5 * time.Second)}
	rep, b := scheduleReporter(t, t.TempDir(), srv, c, time.Minute)
	if n := len(rep.periods(c.now)); n != MaxCatchUp {
		t.Errorf("a tick looks at %d periods, want %d", n, MaxCatchUp)
	}
	for i := range 2 {
		record(t, b, d.Add(time.Duration(i)*time.Minute+30*time.Second), "example.com", "mailto:dmarc@example.com")
		c.now = d.Add(time.Duration(i)*time.Minute + 50*time.Second)
		if sent := tick(t, rep, nil); len(sent) != 0 {
			t.Fatalf("minute %d: sent %q before the minute ended", i, rcpts(sent))
		}
		c.now = d.Add(time.Duration(i+1)*time.Minute + 5*time.Second)
		sent := tick(t, rep, nil)
		if len(sent) != 1 {
			t.Fatalf("minute %d: %d reports, want 1", i, len(sent))
		}
		if _, begin, _ := reportOf(t, sent[0]); begin != d.Add(time.Duration(i)*time.Minute).Unix() {
			t.Errorf("minute %d: the report begins %s", i, time.Unix(begin, 0).UTC())
		}
	}
	c.now = c.now.Add(10 * time.Second)
	if more := tick(t, rep, nil); len(more) != 0 {
		t.Errorf("then sent to %q", rcpts(more))
	}
}

// Over two days of ticks, with mail arriving and the spool refusing
// every fourth report, each hourly report reaches each mailbox once.
func TestTickNothingTwice(t *testing.T) {
	srv := scheduleZone(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{start}
	rep, b := scheduleReporter(t, t.TempDir(), srv, c, time.Hour)
	count := map[string]int{} // report ID and mailbox
	hours := map[int64]bool{} // periods with mail
	calls := 0
	refuse := func(m Outgoing) error {
		calls++
		if calls%4 == 0 {
			return errors.New("spool refuses")
		}
		return nil
	}
	for c.now.Before(start.Add(48 * time.Hour)) {
		record(t, b, c.now, "example.com", twoMailboxes...)
		hours[c.now.Truncate(time.Hour).Unix()] = true
		for _, m := range tick(t, rep, refuse) {
			id, _, _ := reportOf(t, m)
			count[id+" "+m.To[0]]++
		}
		c.now = c.now.Add(25 * time.Minute)
	}
	c.now = c.now.Add(2 * time.Hour)
	for _, m := range tick(t, rep, nil) {
		id, _, _ := reportOf(t, m)
		count[id+" "+m.To[0]]++
	}
	for k, n := range count {
		if n != 1 {
			t.Errorf("%s sent %d times", k, n)
		}
	}
	for h := range hours {
		id := rep.reportID("example.com", time.Unix(h, 0), time.Unix(h+3600, 0))
		for _, to := range []string{"dmarc@example.com", "agg@reports.test"} {
			if count[id+" "+to] != 1 {
				t.Errorf("period %s to %s: sent %d times", time.Unix(h, 0).UTC(), to, count[id+" "+to])
			}
		}
	}
	if len(count) != 2*len(hours) {
		t.Errorf("%d reports sent for %d hours with mail", len(count), len(hours))
	}
}

// On the first start, mail recorded before reports ran is not reported,
// save the period that has just ended; beyond Retention nothing ever is.
func TestTickFirstStart(t *testing.T) {
	srv := scheduleZone(t)
	day := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	c := &clock{day.Add(5 * time.Minute)}
	rep, b := scheduleReporter(t, dir, srv, c, 0)
	for _, ago := range []int{10, 8, 3, 2, 1} {
		record(t, b, day.Add(-time.Duration(ago)*24*time.Hour+time.Hour), "example.com", "mailto:dmarc@example.com")
	}
	sent := tick(t, rep, nil)
	if len(sent) != 1 {
		t.Fatalf("first start sent %d reports, want only the last period's", len(sent))
	}
	if _, begin, _ := reportOf(t, sent[0]); begin != day.Add(-24*time.Hour).Unix() {
		t.Errorf("first start reported the period from %s", time.Unix(begin, 0).UTC())
	}
	for range 3 {
		c.now = c.now.Add(8 * time.Hour)
		rep2, _ := scheduleReporter(t, dir, srv, c, 0)
		if more := tick(t, rep2, nil); len(more) != 0 {
			t.Fatalf("later sent %d reports", len(more))
		}
	}

	// An interval change is a new start: the hourly periods before it are
	// not reported, those after it are.
	c.now = day.Add(24*time.Hour + 5*time.Hour + 30*time.Minute)
	for h := range 5 {
		record(t, b, day.Add(24*time.Hour+time.Duration(h)*time.Hour+time.Minute), "example.com", "mailto:dmarc@example.com")
	}
	hourly, b2 := scheduleReporter(t, dir, srv, c, time.Hour)
	if sent := tick(t, hourly, nil); len(sent) != 0 {
		t.Fatalf("after the interval change sent %d reports", len(sent))
	}
	record(t, b2, c.now.Add(10*time.Minute), "example.com", "mailto:dmarc@example.com")
	c.now = c.now.Add(40 * time.Minute)
	if sent := tick(t, hourly, nil); len(sent) != 1 {
		t.Fatalf("first hour after the change: %d reports", len(sent))
	}
}

// A period claimed by an earlier version (which claimed, then sent) is
// not sent again on the first start of this one.
func TestTickFirstStartAfterUpgrade(t *testing.T) {
	srv := scheduleZone(t)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{day.Add(24*time.Hour + 5*time.Minute)}
	rep, b := scheduleReporter(t, t.TempDir(), srv, c, 0)
	record(t, b, day.Add(10*time.Hour), "example.com", "mailto:dmarc@example.com")
	if _, err := b.Claim(context.Background(), fmt.Sprintf("aggregate-%d-%d", day.Unix(), day.Add(24*time.Hour).Unix())); err != nil {
		t.Fatal(err)
	}
	if sent := tick(t, rep, nil); len(sent) != 0 {
		t.Errorf("period claimed by an earlier version sent again to %q", rcpts(sent))
	}
}

// Prune drops the record of periods that ended before the cut, and keeps
// the rest.
func TestPruneClaims(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := NewFileBackend(dir, testLog())
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	old := period{day, day.Add(24 * time.Hour)}
	recent := period{day.Add(8 * 24 * time.Hour), day.Add(9 * 24 * time.Hour)}
	keys := []string{old.key(), old.doneKey(), old.sentKey("example.com", "a@example.com"),
		recent.doneKey(), recent.sentKey("example.com", "a@example.com"), startKey, startKey + "-86400s"}
	for _, k := range keys {
		if ok, err := b.Claim(ctx, k); !ok || err != nil {
			t.Fatalf("claim %s: %v %v", k, ok, err)
		}
	}
	if err := b.Prune(day.Add(2 * 24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		ok, err := b.Claimed(ctx, k)
		if err != nil || ok != (i >= 3) {
			t.Errorf("after prune, %s claimed: %v %v", k, ok, err)
		}
	}
	if _, err := b.Claimed(ctx, "../x"); err == nil {
		t.Error("Claimed accepted a key with a slash")
	}
}

func TestClaimPeriod(t *testing.T) {
	for _, c := range []struct {
		key        string
		begin, end int64
		ok         bool
	}{
		{"aggregate-100-200", 100, 200, true},
		{"aggregate-100-200.done", 100, 200, true},
		{"aggregate-100-200.sent-0123abcd", 100, 200, true},
		{"aggregate-start", 0, 0, false},
		{"aggregate-start-86400s", 0, 0, false},
		{"aggregate-200-100", 0, 0, false},
		{"aggregate--1-2", 0, 0, false},
		{"aggregate-1", 0, 0, false},
		{"aggregate-1-x", 0, 0, false},
		{"other-1-2", 0, 0, false},
		{"", 0, 0, false},
	} {
		b, e, ok := claimPeriod(c.key)
		if ok != c.ok || (ok && (b.Unix() != c.begin || e.Unix() != c.end)) {
			t.Errorf("claimPeriod(%q) = %v %v %v", c.key, b, e, ok)
		}
	}
}

func FuzzClaimPeriod(f *testing.F) {
	for _, s := range []string{"aggregate-100-200", "aggregate-100-200.done", "aggregate-start-3600s", "aggregate--1-2", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		b, e, ok := claimPeriod(key)
		if !ok {
			return
		}
		if e.Before(b) || b.Unix() < 0 {
			t.Fatalf("%q: period %v to %v", key, b, e)
		}
		if p := (period{b, e}); !strings.HasPrefix(key, p.key()) {
			t.Fatalf("%q read as %s", key, p.key())
		}
	})
}
