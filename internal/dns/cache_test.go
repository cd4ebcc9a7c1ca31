package dns_test

import (
	"context"
	"sync"
	"testing"
	"time"

	pdns "postern/internal/dns"
	"postern/internal/dnstest"
)

func TestCache(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"example.test. TXT":         {"v=spf1 -all"},
		"bad.example.test SERVFAIL": nil,
	})
	c := pdns.NewCache(srv.Resolver(), pdns.CacheOptions{TTL: time.Hour})
	ctx := context.Background()
	q0 := srv.Queries()
	for i := 0; i < 5; i++ {
		if txt, err := c.LookupTXT(ctx, "example.test"); err != nil || len(txt) != 1 {
			t.Fatalf("TXT: %v %v", txt, err)
		}
	}
	if n := srv.Queries() - q0; n != 1 {
		t.Errorf("%d queries for 5 lookups of one name, want 1", n)
	}
	// "Does not exist" is kept too.
	q0 = srv.Queries()
	for i := 0; i < 3; i++ {
		if _, err := c.LookupTXT(ctx, "nope.example.test"); !pdns.IsNotFound(err) {
			t.Fatalf("NXDOMAIN: %v", err)
		}
	}
	if n := srv.Queries() - q0; n > 2 { // the Go resolver may try a search suffix
		t.Errorf("%d queries for a cached NXDOMAIN", n)
	}
	// A temporary failure is asked again.
	q0 = srv.Queries()
	for i := 0; i < 2; i++ {
		if _, err := c.LookupTXT(ctx, "bad.example.test"); !pdns.IsTemporary(err) {
			t.Fatalf("SERVFAIL: %v", err)
		}
	}
	if n := srv.Queries() - q0; n < 2 {
		t.Errorf("SERVFAIL was cached (%d queries)", n)
	}
	// Concurrent identical questions share one query.
	q0 = srv.Queries()
	c2 := pdns.NewCache(srv.Resolver(), pdns.CacheOptions{})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c2.LookupTXT(ctx, "example.test")
		}()
	}
	wg.Wait()
	if n := srv.Queries() - q0; n > 2 {
		t.Errorf("%d queries for 20 concurrent lookups", n)
	}
}

func TestCacheExpires(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"example.test. TXT": {"one"}})
	c := pdns.NewCache(srv.Resolver(), pdns.CacheOptions{TTL: 50 * time.Millisecond})
	ctx := context.Background()
	c.LookupTXT(ctx, "example.test")
	srv.Set(dnstest.Zone{"example.test. TXT": {"two"}})
	for deadline := time.Now().Add(5 * time.Second); ; {
		txt, _ := c.LookupTXT(ctx, "example.test")
		if len(txt) == 1 && txt[0] == "two" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("cached answer never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCacheRecordTTL: with the resolver of New, an answer lives as long
// as its records' TTL, capped by CacheOptions.TTL.
func TestCacheRecordTTL(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"short.example.test TXT":   {"one"},
		"short.example.test TTL":   {"1"},
		"long.example.test TXT":    {"one"},
		"zero.example.test TXT":    {"one"},
		"zero.example.test TTL":    {"0"},
		"chain.example.test CNAME": {"short.example.test."},
	})
	c := pdns.NewCache(srv.Resolver(), pdns.CacheOptions{TTL: time.Hour})
	ctx := context.Background()
	for _, name := range []string{"short.example.test", "long.example.test", "zero.example.test", "chain.example.test"} {
		if txt, err := c.LookupTXT(ctx, name); err != nil || len(txt) != 1 || txt[0] != "one" {
			t.Fatalf("%s: %v %v", name, txt, err)
		}
	}
	srv.Set(dnstest.Zone{
		"short.example.test TXT":   {"two"},
		"long.example.test TXT":    {"two"},
		"zero.example.test TXT":    {"two"},
		"chain.example.test CNAME": {"long.example.test."},
	})
	// TTL 0: not kept at all.
	if txt, _ := c.LookupTXT(ctx, "zero.example.test"); len(txt) != 1 || txt[0] != "two" {
		t.Errorf("TTL 0 answer was kept: %v", txt)
	}
	// TTL 300 under a cap of an hour: still the old answer.
	if txt, _ := c.LookupTXT(ctx, "long.example.test"); len(txt) != 1 || txt[0] != "one" {
		t.Errorf("TTL 300 answer not kept: %v", txt)
	}
	time.Sleep(1100 * time.Millisecond)
	// TTL 1 (directly, and as the smallest TTL of a CNAME chain): gone.
	for _, name := range []string{"short.example.test", "chain.example.test"} {
		if txt, _ := c.LookupTXT(ctx, name); len(txt) != 1 || txt[0] != "two" {
			t.Errorf("%s: TTL 1 answer kept after 1.1s: %v", name, txt)
		}
	}
	if txt, _ := c.LookupTXT(ctx, "long.example.test"); len(txt) != 1 || txt[0] != "one" {
		t.Errorf("TTL 300 answer not kept: %v", txt)
	}
	// The cap wins over a long TTL.
	c2 := pdns.NewCache(srv.Resolver(), pdns.CacheOptions{TTL: 100 * time.Millisecond})
	c2.LookupTXT(ctx, "long.example.test")
	srv.Set(dnstest.Zone{"long.example.test TXT": {"three"}})
	time.Sleep(150 * time.Millisecond)
	if txt, _ := c2.LookupTXT(ctx, "long.example.test"); len(txt) != 1 || txt[0] != "three" {
		t.Errorf("answer kept beyond the cap: %v", txt)
	}
}

// TestCacheNegativeTTL: "does not exist" lives for the smaller of the SOA's
// TTL and MINIMUM (RFC 2308 5); without a usable SOA it is not kept.
func TestCacheNegativeTTL(t *testing.T) {
	zone := dnstest.Zone{
		"neg.test SOA":         {"ns.neg.test. hostmaster.neg.test. 1 60 60 60 1"}, // MINIMUM 1
		"neg.test TTL":         {"3600"},
		"zero.test SOA":        {"ns.zero.test. hostmaster.zero.test. 1 60 60 60 0"}, // MINIMUM 0
		"data.neg.test A":      {"127.0.0.1"},
		"other.example.test A": {"127.0.0.1"},
	}
	srv := dnstest.Start(t, zone)
	c := pdns.NewCache(srv.Resolver(), pdns.CacheOptions{TTL: time.Hour})
	ctx := context.Background()
	count := func(name string, n int, kind string) int {
		q0 := srv.Queries()
		for i := 0; i < n; i++ {
			var err error
			if kind == "TXT" {
				_, err = c.LookupTXT(ctx, name)
			} else {
				_, err = c.LookupIPAddr(ctx, name)
			}
			if !pdns.IsNotFound(err) {
				t.Fatalf("%s %s: %v, want not found", kind, name, err)
			}
		}
		return srv.Queries() - q0
	}
	if n := count("nx.neg.test", 3, "TXT"); n != 1 {
		t.Errorf("NXDOMAIN with SOA MINIMUM 1: %d queries for 3 lookups, want 1", n)
	}
	if n := count("data.neg.test", 3, "TXT"); n != 1 {
		t.Errorf("NODATA with SOA MINIMUM 1: %d queries for 3 lookups, want 1", n)
	}
	if n := count("nx.zero.test", 3, "TXT"); n != 3 {
		t.Errorf("NXDOMAIN with SOA MINIMUM 0: %d queries for 3 lookups, want 3", n)
	}
	if n := count("nx.neg.test", 2, "IPAddr"); n != 2 { // A and AAAA once
		t.Errorf("IPAddr NXDOMAIN: %d queries for 2 lookups, want 2", n)
	}
	time.Sleep(1100 * time.Millisecond)
	if n := count("nx.neg.test", 1, "TXT"); n != 1 {
		t.Errorf("NXDOMAIN kept beyond the SOA MINIMUM: %d queries", n)
	}
	// A name that now exists is seen once the negative TTL ran out.
	zone["nx.neg.test TXT"] = []string{"now"}
	srv.Set(zone)
	time.Sleep(1100 * time.Millisecond)
	if txt, err := c.LookupTXT(ctx, "nx.neg.test"); err != nil || len(txt) != 1 {
		t.Errorf("after the negative TTL: %v %v", txt, err)
	}
}

// TestCacheFlatTTL: a resolver that tells no TTLs gets the cap.
func TestCacheFlatTTL(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"x.example.test TXT": {"one"}, "x.example.test TTL": {"0"}})
	var r pdns.Resolver = plain{srv.Resolver()}
	if _, ok := r.(pdns.TTLResolver); ok {
		t.Fatal("plain should hide the TTL methods")
	}
	c := pdns.NewCache(r, pdns.CacheOptions{TTL: time.Hour})
	ctx := context.Background()
	q0 := srv.Queries()
	for i := 0; i < 3; i++ {
		c.LookupTXT(ctx, "x.example.test")
	}
	if n := srv.Queries() - q0; n != 1 {
		t.Errorf("%d queries, want 1 (kept for the cap)", n)
	}
}

type plain struct{ pdns.Resolver }
