package spf

import (
	"context"
	"errors"
	"strings"
	"testing"

	"postern/internal/dnstest"
)

func TestFetchRecord(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"one.test. TXT":       {"unrelated", "v=spf1 -all"},
		"two.test. TXT":       {"v=spf1 -all", "v=spf1 +all"},
		"none.test. TXT":      {"unrelated"},
		"down.test. SERVFAIL": nil,
	})
	res := srv.Resolver()
	ctx := context.Background()
	if txt, err := FetchRecord(ctx, res, "one.test"); err != nil || txt != "v=spf1 -all" {
		t.Errorf("one: %q %v", txt, err)
	}
	if _, err := FetchRecord(ctx, res, "two.test"); err == nil || !strings.Contains(err.Error(), "2 SPF records") {
		t.Errorf("two: %v", err)
	}
	if _, err := FetchRecord(ctx, res, "none.test"); !errors.Is(err, ErrNoRecord) || errors.Is(err, ErrNoTXT) {
		t.Errorf("none: %v", err)
	}
	if _, err := FetchRecord(ctx, res, "gone.test"); !errors.Is(err, ErrNoRecord) || !errors.Is(err, ErrNoTXT) {
		t.Errorf("gone: %v", err)
	}
	if _, err := FetchRecord(ctx, res, "down.test"); err == nil || errors.Is(err, ErrNoRecord) {
		t.Errorf("down: %v", err)
	}
}

func TestCountLookups(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"top.test. TXT":     {"v=spf1 a mx include:inc.test exists:%{i}.x.test ptr redirect=red.test"},
		"top.test. A":       {"192.0.2.1"},
		"top.test. MX":      {"10 mx.top.test."},
		"inc.test. TXT":     {"v=spf1 a:gone.test include:%{d}.x.test -all"},
		"red.test. TXT":     {"v=spf1 include:top.test include:bad.test include:nothing.test"},
		"bad.test. TXT":     {"v=spf1 frob"},
		"mx.top.test. AAAA": {"2001:db8::1"},
	})
	c := CountLookups(context.Background(), srv.Resolver(), "top.test")
	// top: a mx include exists ptr redirect = 6; inc: a include = 2;
	// red: three includes = 3; top again is a loop, bad and nothing
	// cost nothing below them.
	if c.Lookups != 11 {
		t.Errorf("lookups %d, want 11", c.Lookups)
	}
	if got := strings.Join(c.Void, "|"); got != "gone.test A/AAAA|nothing.test TXT" {
		t.Errorf("void %q", got)
	}
	var doms []string
	for _, r := range c.Records {
		doms = append(doms, r.Domain)
	}
	if got := strings.Join(doms, " "); got != "top.test inc.test red.test bad.test" {
		t.Errorf("records %q", got)
	}
	if len(c.Perm) != 2 || !strings.Contains(c.Perm[0], `bad.test: unknown mechanism "frob"`) || !strings.Contains(c.Perm[1], "nothing.test: no SPF record") {
		t.Errorf("perm %q", c.Perm)
	}
	if got := strings.Join(c.Notes, "|"); got != "cannot follow include with macros: %{d}.x.test|include loop at top.test" {
		t.Errorf("notes %q", got)
	}
}
