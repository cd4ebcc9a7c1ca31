package dnstest

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

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

func TestPseudoTypes(t *testing.T) {
	s := Start(t, Zone{
		"r.example.test REFUSED":  nil,
		"t.example.test TRUNCATE": {"TXT"},
		"t.example.test TXT":      {"big"},
		"t.example.test A":        {"127.0.0.1"},
		"d.example.test DELAY":    {"150ms"},
		"d.example.test TXT":      {"late"},
		"ttl.example.test TTL":    {"7"},
		"ttl.example.test TXT":    {"seven"},
		"example.test SOA":        {"ns.example.test. h.example.test. 1 60 60 60 5"},
	})
	ask := func(name string, qtype uint16, network string) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		in, _, err := (&dns.Client{Net: network}).Exchange(m, s.Addr)
		if err != nil {
			t.Fatalf("%s %d %s: %v", name, qtype, network, err)
		}
		return in
	}
	if in := ask("r.example.test.", dns.TypeTXT, "udp"); in.Rcode != dns.RcodeRefused {
		t.Errorf("REFUSED: %v", in)
	}
	if in := ask("t.example.test.", dns.TypeTXT, "udp"); !in.Truncated || len(in.Answer) != 0 {
		t.Errorf("TRUNCATE over UDP: %v", in)
	}
	if in := ask("t.example.test.", dns.TypeA, "udp"); in.Truncated || len(in.Answer) != 1 {
		t.Errorf("TRUNCATE for TXT only: %v", in)
	}
	t0 := s.TCPQueries()
	if in := ask("t.example.test.", dns.TypeTXT, "tcp"); in.Truncated || len(in.Answer) != 1 {
		t.Errorf("TRUNCATE over TCP: %v", in)
	}
	if s.TCPQueries() != t0+1 {
		t.Errorf("TCP queries not counted")
	}
	start := time.Now()
	if in := ask("d.example.test.", dns.TypeTXT, "udp"); len(in.Answer) != 1 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("DELAY: %v after %v", in, time.Since(start))
	}
	if in := ask("ttl.example.test.", dns.TypeTXT, "udp"); len(in.Answer) != 1 || in.Answer[0].Header().Ttl != 7 {
		t.Errorf("TTL: %v", in)
	}
	for _, name := range []string{"nx.example.test.", "ttl.example.test."} {
		in := ask(name, dns.TypeMX, "udp")
		soa, ok := (*dns.SOA)(nil), len(in.Ns) == 1
		if ok {
			soa, ok = in.Ns[0].(*dns.SOA)
		}
		if !ok || soa.Hdr.Name != "example.test." || soa.Minttl != 5 {
			t.Errorf("%s: negative answer without the zone's SOA: %v", name, in)
		}
	}
	if err := s.Set(Zone{"x DELAY": {"soon"}}); err == nil {
		t.Error("bad DELAY accepted")
	}
	if err := s.Set(Zone{"x TTL": {"-1"}}); err == nil {
		t.Error("bad TTL accepted")
	}
}
