package mailauth

import (
	"context"
	"testing"
	"time"

	pdns "postern/internal/dns"
	"postern/internal/dnstest"
)

func TestTXTCache(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"a.example TXT":           {"v=spf1 -all"},
		"broken.example TXT":      {"x"},
		"broken.example SERVFAIL": {"TXT"},
	})
	c := NewTXTCache(srv.Resolver(), time.Minute)
	now := time.Unix(1_800_000_000, 0)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	q := func(name string) ([]string, error) {
		t.Helper()
		return c.LookupTXT(ctx, name)
	}
	before := srv.Queries()
	for i := 0; i < 3; i++ {
		if txts, err := q("A.example."); err != nil || len(txts) != 1 || txts[0] != "v=spf1 -all" {
			t.Fatalf("a.example: %q %v", txts, err)
		}
		if _, err := q("none.example"); !pdns.IsNotFound(err) {
			t.Fatalf("none.example: %v", err)
		}
	}
	if n := srv.Queries() - before; n != 2 {
		t.Errorf("%d queries for 6 lookups of 2 names, want 2", n)
	}
	// Temporary failures are asked again each time.
	before = srv.Queries()
	for i := 0; i < 2; i++ {
		if _, err := q("broken.example"); err == nil || pdns.IsNotFound(err) {
			t.Fatalf("broken.example: %v", err)
		}
	}
	if n := srv.Queries() - before; n < 2 {
		t.Errorf("SERVFAIL cached: %d queries", n)
	}
	// Past the age, the server is asked again and sees the change.
	srv.Set(dnstest.Zone{"a.example TXT": {"v=spf1 +all"}})
	if txts, _ := q("a.example"); txts[0] != "v=spf1 -all" {
		t.Errorf("within the age: %q", txts)
	}
	now = now.Add(time.Minute)
	if txts, _ := q("a.example"); len(txts) != 1 || txts[0] != "v=spf1 +all" {
		t.Errorf("after the age: %q", txts)
	}
	// A caller changing its answer does not change the cache.
	txts, _ := q("a.example")
	txts[0] = "changed"
	if again, _ := q("a.example"); again[0] != "v=spf1 +all" {
		t.Errorf("cache changed by a caller: %q", again)
	}
}
