package dns_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	pdns "postern/internal/dns"
	"postern/internal/dnstest"
)

// digest is TLSA association data of the length of a SHA2-256 digest.
var digest = bytes.Repeat([]byte{0xd1}, 32)

// secZone is a signed zone (example.test) with an unsigned part
// (un.example.test), bogus names, failures and CNAMEs across the
// parts, for the DNSSEC lookups.
var secZone = dnstest.Zone{
	"example.test DNSSEC":    {"secure"},
	"example.test SOA":       {"ns.example.test. h.example.test. 1 60 60 60 30"},
	"un.example.test DNSSEC": {"insecure"},

	"example.test MX":          {"10 mx.example.test."},
	"un.example.test MX":       {"10 mx.un.example.test."},
	"sf.example.test MX":       {"10 mx.example.test."},
	"sf.example.test TTL":      {"60"},
	"sf.example.test SERVFAIL": {"MX", "A"},
	"bad.example.test DNSSEC":  {"bogus"},
	"bad.example.test MX":      {"10 mx.example.test."},
	"bad.example.test A":       {"127.0.0.9"},

	"mx.example.test A":        {"127.0.0.2"},
	"mx.example.test AAAA":     {"::2"},
	"mx.un.example.test A":     {"127.0.0.3"},
	"half.example.test A":      {"127.0.0.4"},
	"half.example.test DNSSEC": {"insecure", "AAAA"},
	"alias.example.test CNAME": {"mx.example.test."},
	"out.example.test CNAME":   {"mx.un.example.test."},

	"_25._tcp.mx.example.test TLSA":      {dnstest.TLSA(3, 1, 1, digest), dnstest.TLSA(2, 0, 1, digest)},
	"_25._tcp.mx.un.example.test TLSA":   {dnstest.TLSA(3, 1, 1, digest)},
	"_25._tcp.sf.example.test SERVFAIL":  {"TLSA"},
	"_25._tcp.bad.example.test TLSA":     {dnstest.TLSA(3, 1, 1, digest)},
	"_25._tcp.alias.example.test CNAME":  {"_25._tcp.mx.example.test."},
	"_25._tcp.out.example.test CNAME":    {"_25._tcp.mx.un.example.test."},
	"_25._tcp.slow.example.test TIMEOUT": {"TLSA"},
	"_465._tcp.mx.example.test TXT":      {"no TLSA here"},
}

func secServer(t *testing.T) (*dnstest.Server, *pdns.Client) {
	t.Helper()
	s := dnstest.Start(t, secZone)
	return s, s.Resolver()
}

func TestLookupMXDNSSEC(t *testing.T) {
	_, r := secServer(t)
	ctx := context.Background()
	for _, c := range []struct {
		name             string
		secure, notFound bool
		temporary        bool
		hosts            int
	}{
		{name: "example.test", secure: true, hosts: 1},
		{name: "un.example.test", hosts: 1},
		{name: "nx.example.test", secure: true, notFound: true}, // secure NXDOMAIN
		{name: "mx.example.test", secure: true, notFound: true}, // secure NODATA
		{name: "nx.un.example.test", notFound: true},            // insecure NXDOMAIN
		{name: "sf.example.test", temporary: true},              // SERVFAIL
		{name: "bad.example.test", temporary: true},             // bogus: SERVFAIL
	} {
		res, err := r.LookupMXDNSSEC(ctx, c.name)
		switch {
		case c.temporary:
			if !pdns.IsTemporary(err) || res.Secure {
				t.Errorf("%s: %+v %v, want a temporary failure", c.name, res, err)
			}
			continue
		case c.notFound:
			if !pdns.IsNotFound(err) || res.MX != nil {
				t.Errorf("%s: %+v %v, want not found", c.name, res, err)
			}
		case err != nil || len(res.MX) != c.hosts:
			t.Errorf("%s: %+v %v", c.name, res, err)
		}
		if res.Secure != c.secure {
			t.Errorf("%s: Secure %v, want %v", c.name, res.Secure, c.secure)
		}
		if res.TTL <= 0 {
			t.Errorf("%s: TTL %v", c.name, res.TTL)
		}
	}
}

func TestLookupIPAddrDNSSEC(t *testing.T) {
	_, r := secServer(t)
	ctx := context.Background()
	for _, c := range []struct {
		host, name string // name: where the CNAME chain ends
		addrs      int
		secure     bool
	}{
		{"mx.example.test", "mx.example.test.", 2, true},
		{"MX.Example.Test.", "mx.example.test.", 2, true},
		{"alias.example.test", "mx.example.test.", 2, true},   // secure CNAME
		{"out.example.test", "mx.un.example.test.", 1, false}, // CNAME into the unsigned part
		{"mx.un.example.test", "mx.un.example.test.", 1, false},
		{"half.example.test", "half.example.test.", 1, false}, // A secure, AAAA denial not
		{"127.0.0.1", "", 1, false},
		{"localhost", "", 2, false},
	} {
		res, err := r.LookupIPAddrDNSSEC(ctx, c.host)
		if err != nil || len(res.Addrs) != c.addrs || res.Secure != c.secure || res.Name != c.name {
			t.Errorf("%s: %+v %v, want %d addresses at %q, secure %v", c.host, res, err, c.addrs, c.name, c.secure)
		}
	}
	res, err := r.LookupIPAddrDNSSEC(ctx, "nx.example.test")
	if !pdns.IsNotFound(err) || !res.Secure {
		t.Errorf("secure NXDOMAIN: %+v %v", res, err)
	}
	res, err = r.LookupIPAddrDNSSEC(ctx, "nx.un.example.test")
	if !pdns.IsNotFound(err) || res.Secure {
		t.Errorf("insecure NXDOMAIN: %+v %v", res, err)
	}
	// A fails, AAAA does not: the lookup fails.
	if _, err := r.LookupIPAddrDNSSEC(ctx, "sf.example.test"); !pdns.IsTemporary(err) {
		t.Errorf("half SERVFAIL: %v", err)
	}
	if _, err := r.LookupIPAddrDNSSEC(ctx, "bad.example.test"); !pdns.IsTemporary(err) {
		t.Errorf("bogus: %v", err)
	}
}

func TestLookupTLSA(t *testing.T) {
	s, r := secServer(t)
	ctx := context.Background()
	want311 := append([]byte{3, 1, 1}, digest...)
	for _, c := range []struct {
		host, name string
		records    int
		secure     bool
	}{
		{"mx.example.test", "_25._tcp.mx.example.test.", 2, true},
		{"mx.example.test.", "_25._tcp.mx.example.test.", 2, true},
		{"mx.un.example.test", "_25._tcp.mx.un.example.test.", 1, false},
		// RFC 7671 7: a CNAME at the TLSA name is followed; the answer is
		// secure only when the whole chain is.
		{"alias.example.test", "_25._tcp.alias.example.test.", 2, true},
		{"out.example.test", "_25._tcp.out.example.test.", 1, false},
	} {
		res, err := r.LookupTLSA(ctx, 25, "tcp", c.host)
		if err != nil || len(res.Records) != c.records || res.Secure != c.secure || res.Name != c.name {
			t.Errorf("%s: %+v %v", c.host, res, err)
			continue
		}
		if !bytes.Equal(res.Records[0], want311) && !bytes.Equal(res.Records[len(res.Records)-1], want311) {
			t.Errorf("%s: records %x", c.host, res.Records)
		}
	}
	for _, c := range []struct {
		host     string
		port     int
		secure   bool
		notFound bool
	}{
		{"nx.example.test", 25, true, true},     // secure NXDOMAIN
		{"mx.example.test", 465, true, true},    // secure NODATA
		{"nx.un.example.test", 25, false, true}, // insecure denial
		{"sf.example.test", 25, false, false},   // SERVFAIL
		{"bad.example.test", 25, false, false},  // bogus
	} {
		res, err := r.LookupTLSA(ctx, c.port, "tcp", c.host)
		if c.notFound != pdns.IsNotFound(err) || !c.notFound && !pdns.IsTemporary(err) || res.Secure != c.secure || res.Records != nil {
			t.Errorf("%s:%d: %+v %v", c.host, c.port, res, err)
		}
	}
	// No reply: a timeout, temporary.
	quick := pdns.New(pdns.Options{Servers: []string{s.Addr}, Timeout: 50 * time.Millisecond})
	if res, err := quick.LookupTLSA(ctx, 25, "tcp", "slow.example.test"); !pdns.IsTemporary(err) || res.Secure {
		t.Errorf("timeout: %+v %v", res, err)
	}
	for _, bad := range []struct {
		port        int
		proto, host string
	}{{-1, "tcp", "x.test"}, {70000, "tcp", "x.test"}, {25, "", "x.test"}, {25, "t.cp", "x.test"}, {25, "tcp", ""}, {25, "tcp", "a..b"}} {
		if _, err := r.LookupTLSA(ctx, bad.port, bad.proto, bad.host); !pdns.IsNotFound(err) {
			t.Errorf("%+v: %v, want not found", bad, err)
		}
	}
}

// TestUntrustedServer: the AD bit of a server that is not trusted to
// validate counts for nothing.
func TestUntrustedServer(t *testing.T) {
	s := dnstest.Start(t, secZone)
	r := s.Resolver()
	pdns.TrustNone(r)
	ctx := context.Background()
	if res, err := r.LookupMXDNSSEC(ctx, "example.test"); err != nil || res.Secure || len(res.MX) != 1 {
		t.Errorf("MX: %+v %v", res, err)
	}
	if res, err := r.LookupIPAddrDNSSEC(ctx, "mx.example.test"); err != nil || res.Secure {
		t.Errorf("IPAddr: %+v %v", res, err)
	}
	if res, err := r.LookupTLSA(ctx, 25, "tcp", "mx.example.test"); err != nil || res.Secure || len(res.Records) != 2 {
		t.Errorf("TLSA: %+v %v", res, err)
	}
	if res, err := r.LookupTLSA(ctx, 25, "tcp", "nx.example.test"); !pdns.IsNotFound(err) || res.Secure {
		t.Errorf("TLSA denial: %+v %v", res, err)
	}
}

// TestPlainLookupsUnchanged: the plain lookups ask without the DNSSEC
// bits, and get the same records from a signed zone.
func TestPlainLookupsUnchanged(t *testing.T) {
	_, r := secServer(t)
	ctx := context.Background()
	mx, err := r.LookupMX(ctx, "example.test")
	if err != nil || len(mx) != 1 || mx[0].Host != "mx.example.test." {
		t.Errorf("MX: %v %v", mx, err)
	}
	ips, err := r.LookupIPAddr(ctx, "alias.example.test")
	if err != nil || len(ips) != 2 {
		t.Errorf("IPAddr: %v %v", ips, err)
	}
}

func TestCacheDNSSEC(t *testing.T) {
	s, r := secServer(t)
	c := pdns.NewCache(r, pdns.CacheOptions{TTL: time.Hour})
	ctx := context.Background()
	q0 := s.Queries()
	for i := 0; i < 3; i++ {
		mx, err := c.LookupMXDNSSEC(ctx, "example.test")
		if err != nil || !mx.Secure || len(mx.MX) != 1 {
			t.Fatalf("MX: %+v %v", mx, err)
		}
		mx.MX[0].Host = "changed." // callers get copies
		a, err := c.LookupIPAddrDNSSEC(ctx, "alias.example.test")
		if err != nil || !a.Secure || a.Name != "mx.example.test." || len(a.Addrs) != 2 {
			t.Fatalf("IPAddr: %+v %v", a, err)
		}
		a.Addrs[0].IP = nil
		tl, err := c.LookupTLSA(ctx, 25, "tcp", "mx.example.test")
		if err != nil || !tl.Secure || len(tl.Records) != 2 || tl.Records[0][0] == 0 {
			t.Fatalf("TLSA: %+v %v", tl, err)
		}
		tl.Records[0][0] = 0
		if _, err := c.LookupTLSA(ctx, 25, "tcp", "nx.example.test"); !pdns.IsNotFound(err) {
			t.Fatalf("TLSA denial: %v", err)
		}
	}
	// MX, A + AAAA, TLSA, TLSA denial: once each.
	if n := s.Queries() - q0; n != 5 {
		t.Errorf("%d queries for three rounds, want 5", n)
	}
	// A plain lookup is a different question.
	q0 = s.Queries()
	if mx, err := c.LookupMX(ctx, "example.test"); err != nil || len(mx) != 1 || s.Queries() != q0+1 {
		t.Errorf("plain MX after a DNSSEC one: %v %v, %d queries", mx, err, s.Queries()-q0)
	}
	// Failures are asked again.
	q0 = s.Queries()
	for i := 0; i < 2; i++ {
		if _, err := c.LookupTLSA(ctx, 25, "tcp", "sf.example.test"); !pdns.IsTemporary(err) {
			t.Fatalf("SERVFAIL: %v", err)
		}
	}
	if n := s.Queries() - q0; n < 2 {
		t.Errorf("SERVFAIL kept (%d queries)", n)
	}
}

// plainResolver is a Resolver without DNSSEC lookups, as *net.Resolver.
type plainResolver struct{ pdns.Resolver }

func TestCacheWithoutDNSSEC(t *testing.T) {
	_, r := secServer(t)
	c := pdns.NewCache(plainResolver{r}, pdns.CacheOptions{})
	ctx := context.Background()
	if mx, err := c.LookupMXDNSSEC(ctx, "example.test"); err != nil || mx.Secure || len(mx.MX) != 1 {
		t.Errorf("MX: %+v %v", mx, err)
	}
	if a, err := c.LookupIPAddrDNSSEC(ctx, "mx.example.test"); err != nil || a.Secure || len(a.Addrs) != 2 {
		t.Errorf("IPAddr: %+v %v", a, err)
	}
	tl, err := c.LookupTLSA(ctx, 25, "tcp", "mx.example.test")
	if !pdns.IsNotFound(err) || tl.Secure || tl.Records != nil || tl.Name != "_25._tcp.mx.example.test." {
		t.Errorf("TLSA: %+v %v", tl, err)
	}
	var _ pdns.DNSSECResolver = c
	var _ pdns.DNSSECResolver = r
}

// TestDNSSECQueryShape: the DNSSEC lookups ask with the DO bit (RFC
// 3225) and the AD bit (RFC 6840 5.7), not CD, and believe the AD bit of
// a loopback server's reply.
func TestDNSSECQueryShape(t *testing.T) {
	addr, queries := rawServer(t, func(req *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.AuthenticatedData = true // a validated "no data"
		return m
	})
	r := pdns.New(pdns.Options{Servers: []string{addr}})
	ctx := context.Background()
	res, err := r.LookupTLSA(ctx, 25, "tcp", "mx.example.test")
	if !pdns.IsNotFound(err) || !res.Secure {
		t.Errorf("TLSA: %+v %v", res, err)
	}
	if _, err := r.LookupMXDNSSEC(ctx, "example.test"); !pdns.IsNotFound(err) {
		t.Errorf("MX: %v", err)
	}
	qs := queries()
	if len(qs) != 2 {
		t.Fatalf("%d queries, want 2", len(qs))
	}
	for i, q := range qs {
		opt := q.IsEdns0()
		if opt == nil || !opt.Do() || !q.AuthenticatedData || q.CheckingDisabled || !q.RecursionDesired {
			t.Errorf("query %d: %v", i, q)
		}
	}
	if q := qs[0].Question[0]; q.Name != "_25._tcp.mx.example.test." || q.Qtype != dns.TypeTLSA {
		t.Errorf("TLSA question %v", q)
	}
}
