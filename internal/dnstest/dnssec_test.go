package dnstest

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/miekg/dns"
)

// signedZone has a secure zone with an insecure part, bogus names and a
// CNAME from the secure part into the insecure one.
var signedZone = Zone{
	"example.test DNSSEC":             {"secure"},
	"example.test SOA":                {"ns.example.test. h.example.test. 1 60 60 60 30"},
	"mx.example.test A":               {"127.0.0.2"},
	"example.test MX":                 {"10 mx.example.test."},
	"un.example.test DNSSEC":          {"insecure"},
	"host.un.example.test A":          {"127.0.0.3"},
	"alias.example.test CNAME":        {"host.un.example.test."},
	"bad.example.test DNSSEC":         {"bogus"},
	"bad.example.test A":              {"127.0.0.4"},
	"_25._tcp.mx.example.test TLSA":   {TLSA(3, 1, 1, bytes.Repeat([]byte{0xab}, 32))},
	"_25._tcp.mx.example.test DNSSEC": {"bogus", "TLSA"},
	"_25._tcp.mx.example.test TXT":    {"not bogus"},
}

// ask sends one query with the DNSSEC bits given.
func ask(t *testing.T, s *Server, name string, qtype uint16, do, ad, cd bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, do)
	m.AuthenticatedData = ad
	m.CheckingDisabled = cd
	in, _, err := (&dns.Client{Net: "tcp"}).Exchange(m, s.Addr)
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return in
}

// sigs returns the RRSIGs of a section, by the type they cover.
func sigs(rrs []dns.RR) map[uint16]*dns.RRSIG {
	out := map[uint16]*dns.RRSIG{}
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok {
			out[s.TypeCovered] = s
		}
	}
	return out
}

// rrset returns the records of one type in a section.
func rrset(rrs []dns.RR, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

func TestSecureAnswer(t *testing.T) {
	s := Start(t, signedZone)
	key := s.Key("example.test")
	if key == nil || key.Algorithm != dns.ECDSAP256SHA256 {
		t.Fatalf("key %v", key)
	}
	in := ask(t, s, "mx.example.test.", dns.TypeA, true, false, false)
	if !in.AuthenticatedData || in.Rcode != dns.RcodeSuccess {
		t.Fatalf("secure A with DO: %v", in)
	}
	sig := sigs(in.Answer)[dns.TypeA]
	if sig == nil {
		t.Fatalf("no RRSIG for A: %v", in)
	}
	if err := sig.Verify(key, rrset(in.Answer, dns.TypeA)); err != nil {
		t.Errorf("RRSIG does not verify: %v", err)
	}
	if opt := in.IsEdns0(); opt == nil || !opt.Do() {
		t.Errorf("reply without DO: %v", in)
	}
	// AD alone asks for the status without signatures (RFC 6840 5.7).
	in = ask(t, s, "mx.example.test.", dns.TypeA, false, true, false)
	if !in.AuthenticatedData || len(sigs(in.Answer)) != 0 {
		t.Errorf("AD query: %v", in)
	}
	// Neither bit: a plain answer, as before.
	in = ask(t, s, "mx.example.test.", dns.TypeA, false, false, false)
	if in.AuthenticatedData || len(sigs(in.Answer)) != 0 {
		t.Errorf("plain query: %v", in)
	}
	// The apex publishes its key, signed by itself.
	in = ask(t, s, "example.test.", dns.TypeDNSKEY, true, false, false)
	keys := rrset(in.Answer, dns.TypeDNSKEY)
	if len(keys) != 1 || sigs(in.Answer)[dns.TypeDNSKEY].Verify(key, keys) != nil {
		t.Errorf("DNSKEY: %v", in)
	}
}

func TestSecureDenial(t *testing.T) {
	s := Start(t, signedZone)
	key := s.Key("example.test")
	for _, c := range []struct {
		name  string
		rcode int
	}{
		{"nx.example.test.", dns.RcodeNameError},
		{"mx.example.test.", dns.RcodeSuccess}, // NODATA for MX
	} {
		in := ask(t, s, c.name, dns.TypeMX, true, false, false)
		if in.Rcode != c.rcode || !in.AuthenticatedData || len(rrset(in.Answer, dns.TypeMX)) != 0 {
			t.Errorf("%s: %v", c.name, in)
			continue
		}
		sig := sigs(in.Ns)[dns.TypeSOA]
		if sig == nil || sig.Verify(key, rrset(in.Ns, dns.TypeSOA)) != nil {
			t.Errorf("%s: SOA not signed: %v", c.name, in)
		}
	}
	in := ask(t, s, "nx.un.example.test.", dns.TypeA, true, true, false)
	if in.Rcode != dns.RcodeNameError || in.AuthenticatedData {
		t.Errorf("insecure NXDOMAIN: %v", in)
	}
}

func TestInsecureAndBogus(t *testing.T) {
	s := Start(t, signedZone)
	in := ask(t, s, "host.un.example.test.", dns.TypeA, true, true, false)
	if in.AuthenticatedData || len(sigs(in.Answer)) != 0 || len(in.Answer) != 1 {
		t.Errorf("insecure name: %v", in)
	}
	// A secure CNAME into an insecure name: the answer is insecure.
	in = ask(t, s, "alias.example.test.", dns.TypeA, true, true, false)
	if in.AuthenticatedData || len(rrset(in.Answer, dns.TypeA)) != 1 || sigs(in.Answer)[dns.TypeCNAME] == nil {
		t.Errorf("CNAME to insecure: %v", in)
	}
	in = ask(t, s, "bad.example.test.", dns.TypeA, true, true, false)
	if in.Rcode != dns.RcodeServerFailure || len(in.Answer) != 0 {
		t.Errorf("bogus: %v", in)
	}
	// With CD the resolver hands over the data it could not validate.
	in = ask(t, s, "bad.example.test.", dns.TypeA, true, false, true)
	if in.Rcode != dns.RcodeSuccess || in.AuthenticatedData || len(rrset(in.Answer, dns.TypeA)) != 1 {
		t.Fatalf("bogus with CD: %v", in)
	}
	sig := sigs(in.Answer)[dns.TypeA]
	if k := s.Key("bad.example.test"); sig == nil || k == nil || sig.Verify(k, rrset(in.Answer, dns.TypeA)) == nil {
		t.Errorf("bogus signature verifies: %v", in)
	}
	// Bogus for TLSA only: the name's TXT is secure.
	tlsa := "_25._tcp.mx.example.test."
	if in = ask(t, s, tlsa, dns.TypeTLSA, true, true, false); in.Rcode != dns.RcodeServerFailure {
		t.Errorf("bogus TLSA: %v", in)
	}
	if in = ask(t, s, tlsa, dns.TypeTXT, true, true, false); !in.AuthenticatedData || len(in.Answer) != 2 {
		t.Errorf("TXT beside a bogus TLSA: %v", in)
	}
}

func TestKeysKept(t *testing.T) {
	s := Start(t, Zone{"example.test DNSSEC": {"secure"}})
	k1 := s.Key("example.test.")
	if err := s.Set(Zone{"example.test DNSSEC": {"secure"}, "a.example.test A": {"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	k2 := s.Key("EXAMPLE.test")
	if k1 == nil || k2 == nil || k1.PublicKey != k2.PublicKey {
		t.Errorf("key changed across Set: %v %v", k1, k2)
	}
	in := ask(t, s, "a.example.test.", dns.TypeA, true, false, false)
	if sig := sigs(in.Answer)[dns.TypeA]; sig == nil || sig.Verify(k2, rrset(in.Answer, dns.TypeA)) != nil {
		t.Errorf("A not signed with the kept key: %v", in)
	}
	if s.Key("other.test") != nil {
		t.Error("key for a name without DNSSEC")
	}
}

func TestRootSecure(t *testing.T) {
	s := Start(t, Zone{". DNSSEC": {"secure"}, "a.test A": {"127.0.0.1"}})
	if in := ask(t, s, "a.test.", dns.TypeA, false, true, false); !in.AuthenticatedData {
		t.Errorf("secure root: %v", in)
	}
}

func TestDNSSECZoneErrors(t *testing.T) {
	s := Start(t, Zone{})
	for _, z := range []Zone{
		{"x DNSSEC": nil},
		{"x DNSSEC": {"valid"}},
		{"x DNSSEC": {"bogus", "NOSUCHTYPE"}},
	} {
		if err := s.Set(z); err == nil {
			t.Errorf("%v accepted", z)
		}
	}
}

func TestTLSAData(t *testing.T) {
	data, _ := hex.DecodeString("00ff10")
	rr, err := dns.NewRR("_25._tcp.x.test. 60 IN TLSA " + TLSA(2, 0, 1, data))
	if err != nil {
		t.Fatal(err)
	}
	r := rr.(*dns.TLSA)
	if r.Usage != 2 || r.Selector != 0 || r.MatchingType != 1 || r.Certificate != "00ff10" {
		t.Errorf("TLSA %v", r)
	}
}
