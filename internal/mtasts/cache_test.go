package mtasts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// cacheRig is a Cache on a loopback DNS server and a loopback HTTPS policy
// server whose answers the test changes, with a clock it moves.
type cacheRig struct {
	dns     *dnstest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	body    map[string]string // domain → policy file; missing: 404
	now     time.Time
	client  *http.Client
	dir     string
	t       *testing.T
}

func newCacheRig(t *testing.T, zone dnstest.Zone, domains ...string) *cacheRig {
	t.Helper()
	r := &cacheRig{t: t, dns: dnstest.Start(t, zone), body: map[string]string{}, dir: t.TempDir(),
		now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.fetches.Add(1)
		r.mu.Lock()
		b, ok := r.body[strings.TrimPrefix(req.Host, "mta-sts.")]
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, b)
	})
	var names []string
	for _, d := range domains {
		names = append(names, PolicyHost(d))
	}
	pool, port := policyServer(t, h, names...)
	r.client = NewClient(toPort(port), pool, 5*time.Second)
	return r
}

func (r *cacheRig) cache() *Cache {
	c := &Cache{Dir: r.dir, Resolver: r.dns.Resolver(), Client: r.client, Timeout: 5 * time.Second,
		Now: func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }}
	r.t.Cleanup(c.Wait) // before the TempDir goes
	return c
}

func (r *cacheRig) serve(domain, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if body == "" {
		delete(r.body, domain)
	} else {
		r.body[domain] = body
	}
}

func (r *cacheRig) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = r.now.Add(d)
}

const dayPolicy = "version: STSv1\nmode: enforce\nmx: mx.a.test\nmax_age: 86400\n"

func TestCacheFetchesOnceAndServesFromMemory(t *testing.T) {
	r := newCacheRig(t, dnstest.Zone{"_mta-sts.a.test TXT": {"v=STSv1; id=one"}}, "a.test")
	r.serve("a.test", dayPolicy)
	c := r.cache()
	d, err := c.Lookup(context.Background(), "a.test")
	if err != nil || !d.Enforced() || d.Source != "fetched" {
		t.Fatalf("first Lookup = %+v, %v; want an enforced policy, fetched", d, err)
	}
	q := r.dns.Queries()
	for i := 0; i < 5; i++ {
		d, err = c.Lookup(context.Background(), "a.test")
		if err != nil || !d.Enforced() || d.Source != "cache" {
			t.Fatalf("Lookup = %+v, %v; want the cached policy", d, err)
		}
	}
	if r.dns.Queries() != q || r.fetches.Load() != 1 {
		t.Errorf("cached lookups made %d DNS queries and %d fetches in all; want none after the first fetch",
			r.dns.Queries()-q, r.fetches.Load())
	}
	if !d.Policy.Matches("mx.a.test") || d.Policy.Matches("evil.test") {
		t.Errorf("policy %+v matches the wrong hosts", d.Policy)
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	r := newCacheRig(t, dnstest.Zone{"_mta-sts.a.test TXT": {"v=STSv1; id=one"}}, "a.test")
	r.serve("a.test", dayPolicy)
	if _, err := r.cache().Lookup(context.Background(), "a.test"); err != nil {
		t.Fatal(err)
	}
	// The restarted server finds no record and no policy file: an attacker
	// blocking both must not strip the policy (RFC 8461 10.2).
	r.serve("a.test", "")
	if err := r.dns.Set(dnstest.Zone{"_mta-sts.a.test SERVFAIL": nil}); err != nil {
		t.Fatal(err)
	}
	c := r.cache()
	if err := c.Load(); err != nil {
		t.Fatal(err)
	}
	d, err := c.Lookup(context.Background(), "a.test")
	if err != nil || !d.Enforced() || d.Source != "cache" {
		t.Fatalf("after restart Lookup = %+v, %v; want the saved policy", d, err)
	}
	// Past max_age it is gone, and the failure to look up the record defers.
	r.advance(25 * time.Hour)
	c = r.cache()
	if err := c.Load(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(context.Background(), "a.test"); !errors.Is(err, ErrLookup) {
		t.Errorf("expired policy and SERVFAIL: err %v, want ErrLookup", err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "a.test.json")); !os.IsNotExist(err) {
		t.Errorf("expired policy file still there: %v", err)
	}
}

func TestCacheKeepsPolicyWhenRefreshFails(t *testing.T) {
	r := newCacheRig(t, dnstest.Zone{"_mta-sts.a.test TXT": {"v=STSv1; id=one"}}, "a.test")
	r.serve("a.test", dayPolicy)
	c := r.cache()
	if _, err := c.Lookup(context.Background(), "a.test"); err != nil {
		t.Fatal(err)
	}
	// A new id, but the new policy cannot be fetched: the old one stays.
	if err := r.dns.Set(dnstest.Zone{"_mta-sts.a.test TXT": {"v=STSv1; id=two"}}); err != nil {
		t.Fatal(err)
	}
	r.serve("a.test", "")
	r.advance(2 * time.Hour)
	d, err := c.refresh(context.Background(), "a.test", c.entries["a.test"])
	if err != nil || !d.Enforced() || d.Fetch == nil {
		t.Fatalf("refresh = %+v, %v; want the old policy and the fetch error", d, err)
	}
	// The record is withdrawn: the cached policy still holds.
	if err := r.dns.Set(dnstest.Zone{"a.test TXT": {"v=spf1 -all"}}); err != nil {
		t.Fatal(err)
	}
	c.Refresh(context.Background(), "a.test")
	if d, _ := c.Lookup(context.Background(), "a.test"); !d.Enforced() || c.entries["a.test"].ID != "one" {
		t.Errorf("after the record went: %+v; want policy id one still in force", d)
	}
	// A policy of mode none, under a new id, ends it (RFC 8461 8.3).
	if err := r.dns.Set(dnstest.Zone{"_mta-sts.a.test TXT": {"v=STSv1; id=three"}}); err != nil {
		t.Fatal(err)
	}
	r.serve("a.test", "version: STSv1\nmode: none\nmax_age: 86400\n")
	c.Refresh(context.Background(), "a.test")
	if d, _ := c.Lookup(context.Background(), "a.test"); d.Policy != nil {
		t.Errorf("after mode none: %+v; want no policy", d)
	}
}

func TestCacheRefetchesSameIDBeforeExpiry(t *testing.T) {
	r := newCacheRig(t, dnstest.Zone{"_mta-sts.a.test TXT": {"v=STSv1; id=one"}}, "a.test")
	r.serve("a.test", dayPolicy)
	c := r.cache()
	if _, err := c.Lookup(context.Background(), "a.test"); err != nil {
		t.Fatal(err)
	}
	r.advance(2 * time.Hour)
	if due := c.due(); len(due) != 1 {
		t.Fatalf("due after 2h = %v; want a.test (the hourly record check)", due)
	}
	c.Refresh(context.Background(), "a.test")
	if n := r.fetches.Load(); n != 1 {
		t.Errorf("same id, early: %d fetches, want 1 (record checked only)", n)
	}
	r.advance(11 * time.Hour) // past half of max_age
	c.Refresh(context.Background(), "a.test")
	if n := r.fetches.Load(); n != 2 {
		t.Errorf("same id, past half of max_age: %d fetches, want 2", n)
	}
	if e := c.entries["a.test"]; !e.Fetched.Equal(r.now) {
		t.Errorf("policy fetched at %v, want %v", e.Fetched, r.now)
	}
}

func TestCacheWithoutPolicy(t *testing.T) {
	r := newCacheRig(t, dnstest.Zone{
		"_mta-sts.nofile.test TXT":    {"v=STSv1; id=x"},
		"_mta-sts.two.test TXT":       {"v=STSv1; id=a", "v=STSv1; id=b"},
		"_mta-sts.fail.test SERVFAIL": nil,
	}, "nofile.test")
	c := r.cache()
	d, err := c.Lookup(context.Background(), "none.test")
	if err != nil || d.Policy != nil {
		t.Fatalf("no record: %+v, %v", d, err)
	}
	q := r.dns.Queries()
	c.Lookup(context.Background(), "none.test")
	if r.dns.Queries() != q {
		t.Errorf("no record: looked up again within NoPolicyFor")
	}
	// RFC 8461 3.3: a record but no policy, nothing cached: as if none.
	if d, err := c.Lookup(context.Background(), "nofile.test"); err != nil || d.Policy != nil || d.Fetch == nil {
		t.Errorf("record without policy: %+v, %v; want no policy and the fetch error", d, err)
	}
	// RFC 8461 3.1: two records are as none.
	if d, err := c.Lookup(context.Background(), "two.test"); err != nil || d.Policy != nil {
		t.Errorf("two records: %+v, %v", d, err)
	}
	if _, err := c.Lookup(context.Background(), "fail.test"); !errors.Is(err, ErrLookup) {
		t.Errorf("SERVFAIL without cache: %v, want ErrLookup", err)
	}
}

func TestCacheLoadLeavesOutBadFiles(t *testing.T) {
	r := newCacheRig(t, dnstest.Zone{}, "a.test")
	os.WriteFile(filepath.Join(r.dir, "a.test.json"), []byte("{not json"), 0o600)
	os.WriteFile(filepath.Join(r.dir, "b.test.json"),
		[]byte(`{"domain":"c.test","id":"1","body":"x","fetched":"2026-06-01T12:00:00Z"}`), 0o600)
	c := r.cache()
	if err := c.Load(); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Entries()); n != 0 {
		t.Errorf("loaded %d entries from bad files", n)
	}
	if fileName(r.dir, "../etc/passwd") != "" || fileName(r.dir, "a/b") != "" {
		t.Error("fileName accepted a path")
	}
}
