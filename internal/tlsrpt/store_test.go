package tlsrpt

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sessions are counted per policy domain, policy and failure row, and
// the counts survive a restart.
func TestStoreCountsAndKeeps(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: day0.Add(9 * time.Hour)}
	st, err := OpenStore(dir, discard(), StoreOptions{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	sts, none := stsPolicy("a.example"), Policy{Type: PolicyNoPolicyFound, Domain: "a.example"}
	ip := netip.MustParseAddr("192.0.2.7")
	for range 3 {
		st.Record(Session{Time: c.now(), Policy: sts, MXHost: "mx.a.example"})
	}
	for range 2 {
		st.Record(Session{Time: c.now(), Policy: sts, Result: ResultCertificateExpired, MXHost: "MX.a.example.", ReceivingIP: ip, Reason: "expired"})
	}
	st.Record(Session{Time: c.now(), Policy: sts, Result: "made-up", MXHost: "mx.a.example", Reason: strings.Repeat("é", 400)})
	st.Record(Session{Time: c.now(), Policy: none, MXHost: "mx.a.example"})
	st.Record(Session{Time: c.now(), Policy: Policy{Type: PolicySTS}}) // no domain: not counted
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = OpenStore(dir, discard(), StoreOptions{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	st.Record(Session{Time: c.now(), Policy: sts, Result: ResultCertificateExpired, MXHost: "mx.a.example", ReceivingIP: ip})
	st.Flush()
	day, err := st.Load(day0)
	if err != nil {
		t.Fatal(err)
	}
	pols := day.Domains["a.example"]
	if len(day.Domains) != 1 || len(pols) != 2 {
		t.Fatalf("counts %+v", day.Domains)
	}
	p := pols[0]
	if p.Summary != (Summary{Successful: 3, Failed: 4}) || len(p.FailureDetails) != 2 || pols[1].Summary != (Summary{Successful: 1}) {
		t.Fatalf("sts policy %+v", p)
	}
	exp, other := p.FailureDetails[0], p.FailureDetails[1]
	if exp.FailedSessionCount != 3 || exp.ReceivingMXHostname != "mx.a.example" || exp.ReceivingIP != "192.0.2.7" || exp.FailureReasonCode != "expired" {
		t.Errorf("expired row %+v", exp)
	}
	if other.ResultType != ResultValidationFailure || len(other.FailureReasonCode) > maxReasonLen || !strings.HasPrefix(other.FailureReasonCode, "éé") {
		t.Errorf("unknown result row %+v", other)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// The day's counts are written when the next day begins, whether a
// session or Flush notices it.
func TestStoreRollsOverMidnight(t *testing.T) {
	c := &clock{t: day0.Add(23*time.Hour + 59*time.Minute)}
	st, err := OpenStore(t.TempDir(), discard(), StoreOptions{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	st.Record(Session{Time: c.now(), Policy: stsPolicy("a.example"), MXHost: "mx.a.example"})
	st.Record(Session{Time: day0.Add(24 * time.Hour), Policy: stsPolicy("b.example"), MXHost: "mx.b.example"})
	// A session of the day before that comes late counts in the current day.
	st.Record(Session{Time: c.now(), Policy: stsPolicy("c.example"), MXHost: "mx.c.example"})
	c.set(day0.Add(48*time.Hour + time.Minute))
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	days, _ := st.Days()
	if len(days) != 2 || !days[0].Equal(day0) {
		t.Fatalf("days %v", days)
	}
	d0, _ := st.Load(day0)
	d1, _ := st.Load(days[1])
	if len(d0.Domains) != 1 || d0.Domains["a.example"] == nil || len(d1.Domains) != 2 || d1.Domains["c.example"] == nil {
		t.Errorf("day 0 %v, day 1 %v", d0.Domains, d1.Domains)
	}
}

// A day holds at most so many domains, policies and failure rows; what
// does not fit is counted as dropped.
func TestStoreBounds(t *testing.T) {
	c := &clock{t: day0.Add(time.Hour)}
	st, err := OpenStore(t.TempDir(), discard(), StoreOptions{Now: c.now, Limits: Limits{Domains: 2, Policies: 1, FailureRows: 3}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		st.Record(Session{Time: c.now(), Policy: stsPolicy(fmt.Sprintf("d%d.example", i)), MXHost: "mx"})
	}
	st.Record(Session{Time: c.now(), Policy: Policy{Type: PolicyNoPolicyFound, Domain: "d0.example"}, MXHost: "mx"})
	for i := range 5 {
		st.Record(Session{Time: c.now(), Policy: stsPolicy("d1.example"), Result: ResultValidationFailure, MXHost: fmt.Sprintf("mx%d", i)})
	}
	st.Flush()
	day, _ := st.Load(day0)
	if len(day.Domains) != 2 || day.DroppedSessions != 3 || day.DroppedRows != 2 {
		t.Errorf("%d domains, dropped %d sessions and %d rows", len(day.Domains), day.DroppedSessions, day.DroppedRows)
	}
	if p := day.Domains["d1.example"][0]; p.Summary.Failed != 5 || len(p.FailureDetails) != 3 {
		t.Errorf("d1 %+v", p)
	}
	small, _ := OpenStore(t.TempDir(), discard(), StoreOptions{Now: c.now, Limits: Limits{Bytes: 600}})
	for i := range 10 {
		small.Record(Session{Time: c.now(), Policy: stsPolicy(fmt.Sprintf("d%d.example", i)), MXHost: "mx"})
	}
	if small.cur.bytes > 600 || small.cur.DroppedSessions == 0 {
		t.Errorf("byte bound: %d bytes, %d dropped", small.cur.bytes, small.cur.DroppedSessions)
	}
}

// A day file that cannot be read stops the store from opening, naming it.
func TestStoreUnreadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "2026-03-09.json")
	os.WriteFile(path, []byte(`{"domains": {"a.example": [{"policy": {"policy-domain": "b.example"}}]}}`), 0o640)
	if _, err := OpenStore(dir, discard(), StoreOptions{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("inconsistent file: %v", err)
	}
	os.WriteFile(path, []byte(`{"domains": `), 0o640)
	if _, err := OpenStore(dir, discard(), StoreOptions{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("torn file: %v", err)
	}
	// postern check finds what stops the store, and changes nothing.
	if err := CheckStore(dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("CheckStore of a torn file: %v", err)
	}
	if err := CheckStore(filepath.Join(dir, "not-yet")); err != nil {
		t.Errorf("CheckStore of a store not made yet: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "not-yet")); err == nil {
		t.Error("CheckStore made the directory")
	}
	if os.Geteuid() != 0 {
		os.WriteFile(path, []byte(`{}`), 0o000)
		if _, err := OpenStore(dir, discard(), StoreOptions{}); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("unreadable file: %v", err)
		}
	}
}

// Delivery counts from many goroutines at once.
func TestStoreConcurrent(t *testing.T) {
	st, err := OpenStore(t.TempDir(), discard(), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				st.Record(Session{Time: time.Now(), Policy: stsPolicy(fmt.Sprintf("d%d.example", i%5)), Result: []string{"", ResultCertificateExpired}[g%2], MXHost: "mx"})
			}
		})
	}
	wg.Add(1)
	go func() { defer wg.Done(); st.Flush() }()
	wg.Wait()
	st.Flush()
	day, err := st.Load(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, pols := range day.Domains {
		n += pols[0].Summary.Successful + pols[0].Summary.Failed
	}
	if n != 1600 {
		t.Errorf("%d sessions counted, want 1600", n)
	}
}
