package dnstest

import (
	"context"
	"github.com/miekg/dns"
	"testing"

	pdns "postern/internal/dns"
)

func TestServer(t *testing.T) {
	s := Start(t, Zone{
		"example.test. TXT":         {"v=spf1 -all"},
		"example.test MX":           {"10 mx.example.test."},
		"mx.example.test A":         {"127.0.0.2"},
		"alias.example.test CNAME":  {"mx.example.test."},
		"bad.example.test SERVFAIL": nil,
	})
	r := s.Resolver()
	ctx := context.Background()
	txt, err := r.LookupTXT(ctx, "example.test")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 -all" {
		t.Fatalf("TXT: %v %v", txt, err)
	}
	mx, err := r.LookupMX(ctx, "example.test")
	if err != nil || len(mx) != 1 || mx[0].Host != "mx.example.test." {
		t.Fatalf("MX: %v %v", mx, err)
	}
	ips, err := r.LookupHost(ctx, "alias.example.test")
	if err != nil || len(ips) != 1 || ips[0] != "127.0.0.2" {
		t.Fatalf("CNAME->A: %v %v", ips, err)
	}
	_, err = r.LookupTXT(ctx, "nope.example.test")
	if !pdns.IsNotFound(err) {
		t.Fatalf("NXDOMAIN: %v", err)
	}
	_, err = r.LookupTXT(ctx, "mx.example.test")
	if !pdns.IsNotFound(err) {
		t.Fatalf("NODATA: %v", err)
	}
	_, err = r.LookupTXT(ctx, "bad.example.test")
	if !pdns.IsTemporary(err) {
		t.Fatalf("SERVFAIL: %v", err)
	}
}

func TestFailOnlySomeTypes(t *testing.T) {
	s := Start(t, Zone{
		"part.example.test TXT":      {"v=spf1 -all"},
		"part.example.test A":        {"127.0.0.3"},
		"part.example.test SERVFAIL": {"A"},
	})
	r := s.Resolver()
	ctx := context.Background()
	if txt, err := r.LookupTXT(ctx, "part.example.test"); err != nil || len(txt) != 1 {
		t.Fatalf("TXT should answer: %v %v", txt, err)
	}
	// Asked directly: Go's resolver merges the A and AAAA answers of
	// LookupIPAddr, and now and then reports such a name as "no such
	// host", which would hide what the server said.
	for qtype, want := range map[uint16]int{dns.TypeA: dns.RcodeServerFailure, dns.TypeAAAA: dns.RcodeSuccess} {
		m := new(dns.Msg)
		m.SetQuestion("part.example.test.", qtype)
		in, _, err := new(dns.Client).Exchange(m, s.Addr)
		if err != nil || in.Rcode != want {
			t.Fatalf("%s: rcode %v %v, want %s", dns.TypeToString[qtype], in, err, dns.RcodeToString[want])
		}
	}
}
