package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for the store.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestStore(t testing.TB) (*Store, *clock) {
	c := &clock{t: time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)}
	s := Open(t.TempDir(), nil)
	s.Now = c.now
	return s, c
}

func TestSeries(t *testing.T) {
	s, c := newTestStore(t)
	start := c.t
	s.Add(Accepted, 1)
	c.t = start.Add(30 * time.Second)
	s.Add(Accepted, 2) // same minute
	c.t = start.Add(2 * time.Minute)
	s.Add(Accepted, 4)
	s.Set(Queue, 7)
	s.Set(Queue, 3) // the minute keeps the last value, the hour the largest
	c.t = start.Add(time.Hour)
	s.Add(Accepted, 8)
	s.Set(Queue, 5)
	now := c.t
	tests := []struct {
		name string
		step time.Duration
		n    int
		want []float64
	}{
		{Accepted, time.Minute, 3, []float64{0, 0, 8}},
		{Accepted, time.Hour, 3, []float64{0, 7, 8}},
		{Accepted, 24 * time.Hour, 2, []float64{0, 15}},
		{Queue, time.Hour, 2, []float64{7, 5}},
		{Queue, 24 * time.Hour, 1, []float64{7}},
		{"missing", time.Hour, 2, []float64{0, 0}},
	}
	for _, tc := range tests {
		if got := s.Series(tc.name, tc.step, tc.n, now); !slices.Equal(got, tc.want) {
			t.Errorf("Series(%s, %v, %d) = %v, want %v", tc.name, tc.step, tc.n, got, tc.want)
		}
	}
	// Read at the earlier minute: the buckets then.
	if got := s.Series(Queue, time.Minute, 3, start.Add(2*time.Minute)); !slices.Equal(got, []float64{0, 0, 3}) {
		t.Errorf("queue minutes = %v", got)
	}
	if got := s.Series(Accepted, time.Minute, 3, start.Add(2*time.Minute)); !slices.Equal(got, []float64{3, 0, 4}) {
		t.Errorf("accepted minutes = %v", got)
	}
}

func TestRollOver(t *testing.T) {
	s, c := newTestStore(t)
	start := c.t
	s.Add(Delivered, 5)
	// 48 hours on, the minute is gone from the minutes but not the hours.
	c.t = start.Add(48 * time.Hour)
	s.Add(Delivered, 1)
	if got := s.Series(Delivered, time.Minute, minutes, c.t); got[0] != 0 || got[minutes-1] != 1 {
		t.Errorf("minutes after 48 h: first %v last %v", got[0], got[minutes-1])
	}
	if got := s.Series(Delivered, time.Hour, 49, c.t); got[0] != 5 || got[48] != 1 {
		t.Errorf("hours = %v", got)
	}
	// 90 days on, the hours are gone too.
	c.t = start.Add(90 * 24 * time.Hour)
	s.Add(Delivered, 2)
	days := s.Series(Delivered, 24*time.Hour, 91, c.t)
	if days[0] != 0 || days[2] != 1 || days[90] != 2 {
		t.Errorf("days = %v", days)
	}
	// A write older than the ring holds is dropped.
	c.t = start
	s.Add(Delivered, 100)
	if got := s.Series(Delivered, time.Hour, 1, start); got[0] != 0 {
		t.Errorf("old write kept: %v", got)
	}
}

func TestDaySumsUTC(t *testing.T) {
	s, c := newTestStore(t)
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	for h := 0; h < 24; h++ {
		c.t = day.Add(time.Duration(h)*time.Hour + 10*time.Minute)
		s.Add(Bounced, 1)
	}
	c.t = day.Add(24 * time.Hour)
	s.Add(Bounced, 1)
	if got := s.Series(Bounced, 24*time.Hour, 2, c.t); !slices.Equal(got, []float64{24, 1}) {
		t.Errorf("days = %v", got)
	}
}

func TestNamesAndUserBound(t *testing.T) {
	s, _ := newTestStore(t)
	for i := 0; i < MaxUsers+10; i++ {
		u := fmt.Sprintf("u%03d@example.org", i)
		s.Add(OutboundPrefix+u, 1)
		s.Set(ThresholdPrefix+u, 100)
	}
	s.Add(OutboundPrefix+Host, float64(MaxUsers+10))
	s.Set(ThresholdPrefix+Host, 1000)
	out := s.Names(OutboundPrefix)
	if len(out) != MaxUsers+2 || !slices.IsSorted(out) || !slices.Contains(out, OutboundPrefix+Others) {
		t.Fatalf("outbound names: %d, others %v", len(out), slices.Contains(out, OutboundPrefix+Others))
	}
	if got := s.Series(OutboundPrefix+Others, time.Minute, 1, s.now()); got[0] != 10 {
		t.Errorf("others = %v, want 10", got)
	}
	if n := len(s.Names(ThresholdPrefix)); n != MaxUsers+1 {
		t.Errorf("threshold names: %d", n)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)}
	s := Open(dir, nil)
	s.Now = c.now
	s.Add(RejectedPrefix+SPF, 3)
	q := 0.0
	s.Gauge(func(set func(string, float64)) { q++; set(Queue, q) })
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	r := Open(dir, nil)
	if p := r.Problems(); len(p) != 0 {
		t.Fatal(p)
	}
	if got := r.Series(RejectedPrefix+SPF, time.Hour, 1, c.t); got[0] != 3 {
		t.Errorf("after reopen: %v", got)
	}
	if got := r.Series(Queue, time.Minute, 1, c.t); got[0] != 1 {
		t.Errorf("sampled gauge after reopen: %v", got)
	}
	if p := CheckDir(dir); len(p) != 0 {
		t.Errorf("CheckDir: %v", p)
	}
}

func TestDamagedFile(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, nil)
	s.Add(Accepted, 1)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o600)
	if p := CheckDir(dir); len(p) != 1 {
		t.Errorf("CheckDir before start: %v", p)
	}
	r := Open(dir, nil)
	if p := r.Problems(); len(p) != 1 {
		t.Fatalf("problems: %v", p)
	}
	if n := r.Names(""); len(n) != 0 {
		t.Errorf("damaged store not empty: %v", n)
	}
	aside, _ := filepath.Glob(path + DamagedSuffix + "*")
	if len(aside) != 1 {
		t.Fatalf("moved aside: %v", aside)
	}
	if p := CheckDir(dir); len(p) != 1 || !contains(p[0], aside[0]) {
		t.Errorf("CheckDir after start: %v", p)
	}
	// The new store saves over the place of the old one.
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// fullStore has every series the bound allows, with 90 days of data in
// every bucket.
func fullStore(t testing.TB) (*Store, time.Time) {
	s, c := newTestStore(t)
	end := c.t
	var names []string
	names = append(names, Accepted, Delivered, Deferred, Bounced, Queue, OutboundPrefix+Host, ThresholdPrefix+Host)
	for _, r := range Reasons {
		names = append(names, RejectedPrefix+r)
	}
	for i := 0; i < MaxUsers; i++ {
		u := fmt.Sprintf("user%03d@example.org", i)
		names = append(names, OutboundPrefix+u, ThresholdPrefix+u)
	}
	names = append(names, OutboundPrefix+Others)
	for _, n := range names {
		s.Add(n, 1)
	}
	s.mu.Lock()
	for _, x := range s.series {
		for _, r := range []*ring{&x.min, &x.hour} {
			for i := range r.v {
				r.v[i] = float32(i%97 + 1)
			}
		}
	}
	s.mu.Unlock()
	return s, end
}

func TestSizeBound(t *testing.T) {
	s, _ := fullStore(t)
	// More series than the bound allows add nothing.
	for i := 0; i < 100; i++ {
		s.Add(fmt.Sprintf("extra%d", i), 1)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full store: %d series, %d bytes", len(s.Names("")), fi.Size())
	if fi.Size() > 15<<20 {
		t.Errorf("full store is %d bytes, want under 15 MB (the issue's bound is 50 MB)", fi.Size())
	}
	if len(s.Names("")) > maxSeries {
		t.Errorf("%d series", len(s.Names("")))
	}
}

// BenchmarkSeries30Days reads what the overview plots from a full store:
// 24 hourly and 30 daily buckets of every series, and the queue's 2,880
// minutes.
func BenchmarkSeries30Days(b *testing.B) {
	s, now := fullStore(b)
	names := s.Names("")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, n := range s.Names("") {
			s.Series(n, time.Hour, 24, now)
			s.Series(n, 24*time.Hour, 30, now)
		}
		s.Series(Queue, time.Minute, minutes, now)
	}
	b.ReportMetric(float64(len(names)), "series")
}

// BenchmarkSave writes a full store.
func BenchmarkSave(b *testing.B) {
	s, _ := fullStore(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Save(); err != nil {
			b.Fatal(err)
		}
	}
}

// A user quiet for 90 days leaves, and makes room for another.
func TestPruneQuietUsers(t *testing.T) {
	s, c := newTestStore(t)
	for i := 0; i < MaxUsers; i++ {
		s.Add(fmt.Sprintf("%su%03d", OutboundPrefix, i), 1)
	}
	c.t = c.t.Add(90*24*time.Hour + time.Hour)
	s.Add(OutboundPrefix+"u000", 1)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s.Add(OutboundPrefix+"new", 1)
	if got := s.Names(OutboundPrefix); !slices.Equal(got, []string{OutboundPrefix + "new", OutboundPrefix + "u000"}) {
		t.Errorf("after pruning: %v", got)
	}
}

// Run saves at once and at shutdown, while counts keep coming.
func TestRunSavesAtShutdown(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				s.Add(Accepted, 1)
			}
		}()
	}
	wg.Wait()
	cancel()
	<-done
	r := Open(dir, nil)
	// Two hours, in case one ended meanwhile.
	if got := r.Series(Accepted, time.Hour, 2, time.Now()); got[0]+got[1] != 4000 {
		t.Errorf("after shutdown: %v", got)
	}
}

// Names the file could not hold are not kept.
func TestBadNames(t *testing.T) {
	s, _ := newTestStore(t)
	for _, n := range []string{"", OutboundPrefix + "a\r\nb", OutboundPrefix + strings.Repeat("x", maxName), "bad\xff"} {
		s.Add(n, 1)
	}
	if got := s.Names(""); len(got) != 0 {
		t.Errorf("kept %q", got)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if p := CheckDir(s.dir); len(p) != 0 {
		t.Error(p)
	}
}
