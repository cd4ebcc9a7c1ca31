package backupmx

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/smtp"
	"postern/internal/testenv"
)

// The primaries are the MX hosts more preferred than we are, best first,
// never one of our own addresses.
func TestPrimaries(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"a.test. MX":       {"30 mx3.a.test.", "10 mx1.a.test.", "20 backup.test."},
		"mx1.a.test. A":    {"127.0.0.1"},
		"mx3.a.test. A":    {"127.0.0.3"},
		"b.test. MX":       {"10 backup.test."},
		"c.test. MX":       {"10 self.c.test.", "10 mx1.a.test."},
		"self.c.test. A":   {"127.0.0.5"},
		"d.test. MX":       {"20 mx2.d.test.", "10 mx1.d.test."},
		"mx1.d.test. A":    {"127.0.0.11", "127.0.0.12"},
		"mx2.d.test. A":    {"127.0.0.13"},
		"e.test SERVFAIL":  {"MX"},
		"f.test. MX":       {"10 noaddr.f.test.", "15 mx1.a.test."},
		"backup.test. A":   {"127.0.0.9"},
		"nothing.test. MX": {"10 noaddr.f.test."},
	})
	v := New(Options{Hostname: "backup.test", Resolver: srv.Resolver(),
		IsSelf: func(a netip.Addr, port int) bool { return a == netip.MustParseAddr("127.0.0.5") && port == 25 }})
	tests := []struct {
		domain string
		want   string // the addresses in order, or the error's start
	}{
		{"a.test", "127.0.0.1"},
		{"b.test", "error: b.test has no MX host more preferred"},
		{"c.test", "127.0.0.1"},
		{"d.test", "127.0.0.11 127.0.0.12 127.0.0.13"},
		{"e.test", "error: MX e.test"},
		{"f.test", "127.0.0.1"},
		{"nothing.test", "error: nothing.test has no MX host"},
	}
	for _, tt := range tests {
		ps, err := v.primaries(t.Context(), tt.domain)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
		}
		for _, p := range ps {
			got = strings.TrimSpace(got + " " + p.ip.String())
		}
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.domain, got, tt.want)
		}
	}
}

// A primary that does not answer gives 451 4.4.1, unless the cache holds
// its answer; callouts beyond MaxCallouts wait too.
func TestCalloutPrimaryDown(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"a.test. MX": {"10 mx1.a.test.", "20 backup.test."}, "mx1.a.test. A": {"127.0.0.1"}})
	port, _ := strconv.Atoi(strings.TrimPrefix(testenv.FreePort(t), "127.0.0.1:"))
	cache := &Cache{Positive: time.Hour, Negative: time.Minute}
	v := New(Options{Hostname: "backup.test", Resolver: srv.Resolver(), Port: port, Limit: 5 * time.Second,
		Domains: []Domain{{Name: "A.test", Callout: true, Cache: cache}}})
	if rule, callout, ok := v.Match("a.test"); !ok || !callout || rule != "backup_mx A.test (verify = callout)" {
		t.Errorf("Match: %q %v %v", rule, callout, ok)
	}
	if _, _, ok := v.Match("b.test"); ok {
		t.Error("b.test matched")
	}
	rep, why := v.Callout("bob@a.test")
	if rep == nil || rep.Code != 451 || rep.Enhanced != "4.4.1" || !strings.Contains(why, "mx1.a.test [127.0.0.1]") {
		t.Errorf("primary down: %v (%s)", rep, why)
	}
	cache.Put("bob@a.test", nil)
	refused := &smtp.Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user"}
	cache.Put("gone@a.test", refused)
	if rep, why := v.Callout("bob@a.test"); rep != nil || !strings.Contains(why, "cached") {
		t.Errorf("cached acceptance: %v (%s)", rep, why)
	}
	if rep, _ := v.Callout("gone@a.test"); rep != refused {
		t.Errorf("cached refusal: %v", rep)
	}
	for range MaxCallouts {
		v.slots <- struct{}{}
	}
	if rep, why := v.Callout("carol@a.test"); rep == nil || rep.Code != 451 || !strings.Contains(why, "in progress") {
		t.Errorf("too many callouts: %v (%s)", rep, why)
	}
}
