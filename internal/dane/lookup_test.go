package dane

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/dns"
	"postern/internal/dnstest"
)

// lookupZone publishes, in the signed zones example.test and
// hosting.test and the unsigned ones below them, one host for each case
// of RFC 7672 2.2. ee is the DANE-EE record of p's server certificate.
func lookupZone(p pki) dnstest.Zone {
	eeRec := record(DANEEE, SelectorSPKI, MatchSHA256, p.leaf.cert)
	ee := dnstest.TLSA(3, 1, 1, eeRec.Data)
	ta := dnstest.TLSA(2, 0, 1, record(DANETA, SelectorCert, MatchSHA256, p.root.cert).Data)
	pkixEE := dnstest.TLSA(1, 1, 1, eeRec.Data)
	return dnstest.Zone{
		"example.test DNSSEC":    {"secure"},
		"example.test SOA":       {"ns.example.test. h.example.test. 1 60 60 60 30"},
		"un.example.test DNSSEC": {"insecure"},
		"hosting.test DNSSEC":    {"secure"},
		"unhosting.test DNSSEC":  {"insecure"},

		"mx.example.test A":                  {"127.0.0.2"},
		"_25._tcp.mx.example.test TLSA":      {ee, ta},
		"notlsa.example.test A":              {"127.0.0.2"},
		"sf.example.test A":                  {"127.0.0.2"},
		"_25._tcp.sf.example.test SERVFAIL":  {"TLSA"},
		"bogus.example.test A":               {"127.0.0.2"},
		"_25._tcp.bogus.example.test TLSA":   {ee},
		"_25._tcp.bogus.example.test DNSSEC": {"bogus"},
		"slow.example.test A":                {"127.0.0.2"},
		"_25._tcp.slow.example.test TIMEOUT": {"TLSA"},
		"unusable.example.test A":            {"127.0.0.2"},
		"_25._tcp.unusable.example.test TLSA": {pkixEE, dnstest.TLSA(0, 0, 1, eeRec.Data),
			dnstest.TLSA(3, 1, 1, eeRec.Data[:20]), dnstest.TLSA(3, 1, 7, eeRec.Data)},
		"mixed.example.test A":                      {"127.0.0.2"},
		"_25._tcp.mixed.example.test TLSA":          {pkixEE, ee},
		"insecuretlsa.example.test A":               {"127.0.0.2"},
		"_25._tcp.insecuretlsa.example.test TLSA":   {ee},
		"_25._tcp.insecuretlsa.example.test DNSSEC": {"insecure"},
		"mx.un.example.test A":                      {"127.0.0.3"},
		"_25._tcp.mx.un.example.test TLSA":          {ee},
		"addrfail.example.test SERVFAIL":            {"A"},
		"_25._tcp.addrfail.example.test TLSA":       {ee},

		// CNAMEs (RFC 7672 2.2.2).
		"mx.hosting.test A":                     {"127.0.0.4"},
		"_25._tcp.mx.hosting.test TLSA":         {ee},
		"alias.example.test CNAME":              {"mx.hosting.test."},
		"bare.hosting.test A":                   {"127.0.0.4"},
		"alias2.example.test CNAME":             {"bare.hosting.test."},
		"_25._tcp.alias2.example.test TLSA":     {ee},
		"mx.unhosting.test A":                   {"127.0.0.5"},
		"alias3.example.test CNAME":             {"mx.unhosting.test."},
		"_25._tcp.alias3.example.test TLSA":     {ee},
		"sfhost.hosting.test A":                 {"127.0.0.4"},
		"_25._tcp.sfhost.hosting.test SERVFAIL": {"TLSA"},
		"alias4.example.test CNAME":             {"sfhost.hosting.test."},
		"_25._tcp.alias4.example.test TLSA":     {ee},
	}
}

func TestLookup(t *testing.T) {
	p := newPKI(t)
	s := dnstest.Start(t, lookupZone(p))
	r := s.Resolver()
	ctx := context.Background()
	for _, c := range []struct {
		host     string
		mode     Mode
		base     string
		names    []string
		records  int
		unusable int
		why      string
	}{
		{"mx.example.test", ModeVerify, "mx.example.test", []string{"mx.example.test"}, 2, 0, "_25._tcp.mx.example.test (2 usable"},
		{"MX.example.test.", ModeVerify, "mx.example.test", []string{"mx.example.test"}, 2, 0, ""},
		{"mixed.example.test", ModeVerify, "mixed.example.test", []string{"mixed.example.test"}, 1, 1, "1 usable, 1 unusable"},
		{"unusable.example.test", ModeEncrypt, "unusable.example.test", []string{"unusable.example.test"}, 0, 4, "all unusable"},
		{"notlsa.example.test", ModeNone, "", nil, 0, 0, "no TLSA records at _25._tcp.notlsa.example.test"},
		{"insecuretlsa.example.test", ModeNone, "", nil, 0, 0, "TLSA records at _25._tcp.insecuretlsa.example.test are not DNSSEC-validated"},
		{"mx.un.example.test", ModeNone, "", nil, 0, 0, "address records of mx.un.example.test are not DNSSEC-validated"},
		{"nx.example.test", ModeNone, "", nil, 0, 0, "no address records"},
		{"192.0.2.1", ModeNone, "", nil, 0, 0, "not a host name"},
		{"[192.0.2.1]", ModeNone, "", nil, 0, 0, "not a host name"},
		{"", ModeNone, "", nil, 0, 0, "not a host name"},
		// A validated CNAME: its target is the base domain, and the host
		// name is a name the certificate may have too.
		{"alias.example.test", ModeVerify, "mx.hosting.test", []string{"mx.hosting.test", "alias.example.test"}, 1, 0, ""},
		// No TLSA records at the target: the host name's are used.
		{"alias2.example.test", ModeVerify, "alias2.example.test", []string{"alias2.example.test"}, 1, 0, ""},
		// A CNAME into an unsigned zone: the addresses are not validated.
		{"alias3.example.test", ModeNone, "", nil, 0, 0, "address records of alias3.example.test are not DNSSEC-validated"},
	} {
		d, err := Lookup(ctx, r, c.host, 25, true)
		if err != nil || d.Mode != c.mode || d.BaseDomain != c.base || !slices.Equal(d.Names, c.names) ||
			len(d.Records) != c.records || len(d.Unusable) != c.unusable || !strings.Contains(d.Why, c.why) {
			t.Errorf("%q: %+v %v\nwant mode %v base %q names %v, %d records, %d unusable, why %q",
				c.host, d, err, c.mode, c.base, c.names, c.records, c.unusable, c.why)
		}
	}
}

// TestLookupDefers: a lookup that fails is a temporary error, never
// taken for "no DANE" (RFC 7672 2.2).
func TestLookupDefers(t *testing.T) {
	p := newPKI(t)
	s := dnstest.Start(t, lookupZone(p))
	r := dns.New(dns.Options{Servers: []string{s.Addr}, Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	for _, host := range []string{
		"sf.example.test",       // TLSA SERVFAIL
		"bogus.example.test",    // TLSA bogus: SERVFAIL from the validator
		"slow.example.test",     // TLSA never answered
		"addrfail.example.test", // A SERVFAIL
		"alias4.example.test",   // TLSA SERVFAIL at the CNAME target: the host name's records are not asked
	} {
		d, err := Lookup(ctx, r, host, 25, true)
		if err == nil || !dns.IsTemporary(err) || !strings.HasPrefix(err.Error(), "DANE: ") {
			t.Errorf("%s: %+v %v, want a temporary failure", host, d, err)
		}
	}
}

// TestLookupMXInsecure: with an MX RRset not validated nothing is asked.
func TestLookupMXInsecure(t *testing.T) {
	p := newPKI(t)
	s := dnstest.Start(t, lookupZone(p))
	q0 := s.Queries()
	d, err := Lookup(context.Background(), s.Resolver(), "mx.example.test", 25, false)
	if err != nil || d.Mode != ModeNone || !strings.Contains(d.Why, "MX records") {
		t.Errorf("%+v %v", d, err)
	}
	if s.Queries() != q0 {
		t.Errorf("%d queries", s.Queries()-q0)
	}
}

// untrusted is a resolver whose AD bits are not believed, as
// internal/dns makes any server neither on loopback nor listed in
// Options.DNSSECTrusted: every answer is insecure.
type untrusted struct{ dns.DNSSECResolver }

func (u untrusted) LookupMXDNSSEC(ctx context.Context, name string) (dns.MXResult, error) {
	res, err := u.DNSSECResolver.LookupMXDNSSEC(ctx, name)
	res.Secure = false
	return res, err
}

func (u untrusted) LookupIPAddrDNSSEC(ctx context.Context, host string) (dns.AddrResult, error) {
	res, err := u.DNSSECResolver.LookupIPAddrDNSSEC(ctx, host)
	res.Secure = false
	return res, err
}

func (u untrusted) LookupTLSA(ctx context.Context, port int, proto, host string) (dns.TLSAResult, error) {
	res, err := u.DNSSECResolver.LookupTLSA(ctx, port, proto, host)
	res.Secure = false
	return res, err
}

func TestLookupUntrusted(t *testing.T) {
	p := newPKI(t)
	s := dnstest.Start(t, lookupZone(p))
	d, err := Lookup(context.Background(), untrusted{s.Resolver()}, "mx.example.test", 25, true)
	if err != nil || d.Mode != ModeNone {
		t.Errorf("%+v %v", d, err)
	}
}

func TestLookupCachedAndPort(t *testing.T) {
	p := newPKI(t)
	z := lookupZone(p)
	z["_587._tcp.mx.example.test TLSA"] = z["_25._tcp.mx.example.test TLSA"][:1]
	s := dnstest.Start(t, z)
	c := dns.NewCache(s.Resolver(), dns.CacheOptions{})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		d, err := Lookup(ctx, c, "mx.example.test", 587, true)
		if err != nil || d.Mode != ModeVerify || len(d.Records) != 1 || d.TLSAName != "_587._tcp.mx.example.test." {
			t.Errorf("port 587: %+v %v", d, err)
		}
	}
}

// TestLookupAndHandshake wires a decision into crypto/tls as delivery
// does, against a server with p's certificates: the handshake succeeds
// with the records of the server's certificate and fails with others,
// and the client names the TLSA base domain.
func TestLookupAndHandshake(t *testing.T) {
	p := newPKI(t)
	s := dnstest.Start(t, lookupZone(p))
	d, err := Lookup(context.Background(), s.Resolver(), "alias.example.test", 25, true)
	if err != nil || d.Mode != ModeVerify {
		t.Fatalf("%+v %v", d, err)
	}
	// The DANE-TA record of the zone is dated around testNow: keep the
	// DANE-EE one, which ignores dates.
	d.Records = slices.DeleteFunc(d.Records, func(r Record) bool { return r.Usage != DANEEE })
	sni, err := handshake(t, p, d)
	if err != nil || sni != "mx.hosting.test" {
		t.Errorf("handshake: %v, server name %q", err, sni)
	}
	other := issue(t, certSpec{cn: "other"}, nil)
	d.Records = []Record{record(DANEEE, SelectorSPKI, MatchSHA256, other.cert)}
	if _, err := handshake(t, p, d); !errors.Is(err, ErrNoMatch) {
		t.Errorf("handshake with another key's record: %v", err)
	}
}

// handshake runs TLS between a server with p's chain and a client set up
// from d; it returns the client's error and the name the server was
// asked for.
func handshake(t *testing.T, p pki, d Decision) (string, error) {
	t.Helper()
	cs, cc := net.Pipe()
	defer cs.Close()
	defer cc.Close()
	cert := tls.Certificate{Certificate: [][]byte{p.leaf.cert.Raw, p.inter.cert.Raw}, PrivateKey: p.leaf.key}
	sni := make(chan string, 1)
	srv := tls.Server(cs, &tls.Config{Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) { sni <- h.ServerName; return nil, nil }})
	go srv.Handshake()
	cl := tls.Client(cc, &tls.Config{
		ServerName:         d.BaseDomain,
		InsecureSkipVerify: true, // DANE replaces the PKIX checks
		VerifyConnection:   func(st tls.ConnectionState) error { return d.VerifyConnection(&st) },
	})
	err := cl.Handshake()
	return <-sni, err
}
