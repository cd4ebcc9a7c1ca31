package dns

import (
	"encoding/hex"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzReadAnswer feeds arbitrary replies to the code that turns an answer
// into records and TTLs.
func FuzzReadAnswer(f *testing.F) {
	for _, lines := range [][]string{
		{"q.test. 300 IN A 192.0.2.1"},
		{"q.test. 60 IN CNAME b.test.", "b.test. 60 IN CNAME q.test."},
		{"q.test. 60 IN CNAME b.test.", "b.test. 30 IN MX 10 mx.test."},
		{"q.test. 60 IN TXT \"a\" \"b\""},
		{"q.test. 60 IN PTR host.test."},
	} {
		m := new(dns.Msg)
		m.SetQuestion("q.test.", dns.TypeA)
		m.Answer = rrs(f, lines...)
		m.Ns = rrs(f, "test. 60 IN SOA ns.test. h.test. 1 2 3 4 5")
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, m.Answer[len(m.Answer)-1].Header().Rrtype)
	}
	f.Fuzz(func(t *testing.T, b []byte, qtype uint16) {
		m := new(dns.Msg)
		if m.Unpack(b) != nil {
			return
		}
		a, err := readAnswer(m, "q.test", "q.test.", qtype)
		if err != nil {
			return
		}
		if a.ttl < 0 || a.ttl > math.MaxInt32*time.Second {
			t.Fatalf("ttl %v", a.ttl)
		}
		if a.notFound != (len(a.rrs) == 0) {
			t.Fatalf("notFound %v with %d records", a.notFound, len(a.rrs))
		}
		for _, rr := range a.rrs {
			if rr.Header().Rrtype != qtype {
				t.Fatalf("record of type %d for a question of type %d", rr.Header().Rrtype, qtype)
			}
		}
		txtStrings(a.rrs)
		mx, err := mxRecords("q.test", a.rrs)
		for _, m := range mx {
			if !validName(m.Host) {
				t.Fatalf("invalid MX host %q", m.Host)
			}
		}
		if err == nil {
			for i := 1; i < len(mx); i++ {
				if mx[i-1].Pref > mx[i].Pref {
					t.Fatal("MX not sorted")
				}
			}
		}
		names, _ := ptrNames("192.0.2.1", a.rrs)
		for _, n := range names {
			if !validName(n) {
				t.Fatalf("invalid PTR name %q", n)
			}
		}
	})
}

// FuzzParseResolvConf: every server read from a resolv.conf is an
// address and port.
func FuzzParseResolvConf(f *testing.F) {
	f.Add("nameserver 192.0.2.1\nsearch example.org\n")
	f.Add("nameserver ::1\nnameserver fe80::1%lo\noptions ndots:2 timeout:1\n")
	f.Add("domain x\nnameserver host.example\n")
	f.Fuzz(func(t *testing.T, conf string) {
		for _, s := range parseResolvConf([]byte(conf)) {
			if _, err := netip.ParseAddrPort(s); err != nil {
				t.Fatalf("server %q: %v", s, err)
			}
		}
	})
}

// FuzzCheckName: a name accepted is a domain name miekg/dns can send.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"example.org", "example.org.", ".", "_dmarc.x.y", "a..b", "-a", "1.2.3.4", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		fqdn, err := checkName(name)
		if err != nil {
			return
		}
		if _, ok := dns.IsDomainName(fqdn); !ok || !dns.IsFqdn(fqdn) {
			t.Fatalf("%q accepted as %q", name, fqdn)
		}
		m := new(dns.Msg)
		m.SetQuestion(fqdn, dns.TypeTXT)
		if _, err := m.Pack(); err != nil {
			t.Fatalf("%q: %v", fqdn, err)
		}
	})
}

// FuzzTXTBytes: the bytes of a TXT record reach the caller unchanged,
// whatever escaping miekg/dns uses for them.
func FuzzTXTBytes(f *testing.F) {
	f.Add([]byte("v=spf1 -all"))
	f.Add([]byte("\xef\xbb\xbfExplanation \\ \" \\065"))
	f.Add([]byte{0, 1, 255, '\\', '1', '2'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 255 {
			b = b[:255]
		}
		m := new(dns.Msg)
		m.SetQuestion("q.test.", dns.TypeTXT)
		m.Answer = []dns.RR{&dns.RFC3597{
			Hdr:   dns.RR_Header{Name: "q.test.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Rdata: hex.EncodeToString(append([]byte{byte(len(b))}, b...)),
		}}
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Unpack(wire); err != nil {
			t.Fatal(err)
		}
		got := txtStrings(m.Answer)
		if len(got) != 1 || got[0] != string(b) {
			t.Fatalf("%q came out as %q", b, got)
		}
	})
}

// FuzzParseTrusted: what ParseTrusted accepts is a list of masked
// prefixes that read back the same, one per entry.
func FuzzParseTrusted(f *testing.F) {
	f.Add("192.0.2.53")
	f.Add("10.0.0.0/8,2001:db8::/32")
	f.Add("::ffff:192.0.2.1,fe80::1%eth0")
	f.Add("192.0.2.1/33")
	f.Fuzz(func(t *testing.T, s string) {
		list := strings.Split(s, ",")
		got, err := ParseTrusted(list)
		if err != nil {
			return
		}
		if len(got) != len(list) {
			t.Fatalf("%d prefixes for %d entries", len(got), len(list))
		}
		for _, p := range got {
			if !p.IsValid() || p.Masked() != p || p.Addr().Zone() != "" {
				t.Fatalf("prefix %v from %q", p, s)
			}
			again, err := ParseTrusted([]string{p.String()})
			if err != nil || len(again) != 1 || again[0] != p {
				t.Fatalf("%v reads back as %v %v", p, again, err)
			}
		}
	})
}
