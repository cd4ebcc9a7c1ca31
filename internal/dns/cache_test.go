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
