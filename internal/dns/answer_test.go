package dns

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func rrs(t testing.TB, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, rr)
	}
	return out
}

func TestReadAnswer(t *testing.T) {
	soa := "example.test. 600 IN SOA ns.example.test. h.example.test. 1 60 60 60 120"
	for _, tc := range []struct {
		desc     string
		rcode    int
		answer   []string
		ns       []string
		qtype    uint16
		want     int // records
		notFound bool
		ttl      time.Duration
		err      bool
	}{
		{desc: "plain", answer: []string{"q.example.test. 300 IN A 192.0.2.1", "q.example.test. 200 IN A 192.0.2.2"},
			qtype: dns.TypeA, want: 2, ttl: 200 * time.Second},
		{desc: "case differs", answer: []string{"Q.Example.TEST. 300 IN A 192.0.2.1"},
			qtype: dns.TypeA, want: 1, ttl: 300 * time.Second},
		{desc: "other names ignored", answer: []string{"evil.test. 300 IN A 192.0.2.9", "q.example.test. 300 IN A 192.0.2.1"},
			qtype: dns.TypeA, want: 1, ttl: 300 * time.Second},
		{desc: "only other names", answer: []string{"evil.test. 300 IN A 192.0.2.9"}, ns: []string{soa},
			qtype: dns.TypeA, notFound: true, ttl: 120 * time.Second},
		{desc: "other types ignored", answer: []string{"q.example.test. 300 IN TXT \"x\""},
			qtype: dns.TypeA, notFound: true},
		{desc: "other class ignored", answer: []string{"q.example.test. 300 CH A 192.0.2.1"},
			qtype: dns.TypeA, notFound: true},
		{desc: "CNAME chain", answer: []string{"q.example.test. 100 IN CNAME b.example.test.",
			"b.example.test. 300 IN CNAME c.example.test.", "c.example.test. 50 IN A 192.0.2.3"},
			qtype: dns.TypeA, want: 1, ttl: 50 * time.Second},
		{desc: "CNAME chain out of order", answer: []string{"c.example.test. 500 IN A 192.0.2.3",
			"b.example.test. 300 IN CNAME c.example.test.", "q.example.test. 100 IN CNAME b.example.test."},
			qtype: dns.TypeA, want: 1, ttl: 100 * time.Second},
		{desc: "CNAME to nothing, NXDOMAIN", rcode: dns.RcodeNameError,
			answer: []string{"q.example.test. 100 IN CNAME gone.example.test."}, ns: []string{soa},
			qtype: dns.TypeA, notFound: true, ttl: 100 * time.Second},
		{desc: "CNAME loop", answer: []string{"q.example.test. 100 IN CNAME b.example.test.",
			"b.example.test. 100 IN CNAME q.example.test."}, qtype: dns.TypeA, err: true},
		{desc: "CNAME self loop", answer: []string{"q.example.test. 100 IN CNAME q.example.test."},
			qtype: dns.TypeA, err: true},
		{desc: "CNAME asked", answer: []string{"q.example.test. 100 IN CNAME b.example.test."},
			qtype: dns.TypeCNAME, want: 1, ttl: 100 * time.Second},
		{desc: "NXDOMAIN with SOA", rcode: dns.RcodeNameError, ns: []string{soa},
			qtype: dns.TypeTXT, notFound: true, ttl: 120 * time.Second},
		{desc: "NODATA, SOA TTL smaller", ns: []string{"example.test. 30 IN SOA ns.example.test. h.example.test. 1 60 60 60 120"},
			qtype: dns.TypeTXT, notFound: true, ttl: 30 * time.Second},
		{desc: "NODATA without SOA", qtype: dns.TypeTXT, notFound: true},
		{desc: "TTL with the top bit", answer: []string{"q.example.test. 2147483648 IN A 192.0.2.1"},
			qtype: dns.TypeA, want: 1, ttl: 0},
	} {
		m := new(dns.Msg)
		m.SetQuestion("q.example.test.", tc.qtype)
		m.Response = true
		m.Rcode = tc.rcode
		m.Answer = rrs(t, tc.answer...)
		m.Ns = rrs(t, tc.ns...)
		a, err := readAnswer(m, "q.example.test", "q.example.test.", tc.qtype)
		if (err != nil) != tc.err {
			t.Errorf("%s: error %v", tc.desc, err)
			continue
		}
		if err != nil {
			if de, ok := err.(*net.DNSError); !ok || de.IsNotFound {
				t.Errorf("%s: %#v, want a DNSError that is not IsNotFound", tc.desc, err)
			}
			continue
		}
		if len(a.rrs) != tc.want || a.notFound != tc.notFound || a.ttl != tc.ttl {
			t.Errorf("%s: %d records, notFound %v, ttl %v; want %d, %v, %v", tc.desc, len(a.rrs), a.notFound, a.ttl,
				tc.want, tc.notFound, tc.ttl)
		}
	}
	// A chain longer than maxCNAME.
	m := new(dns.Msg)
	m.SetQuestion("c0.test.", dns.TypeA)
	for i := 0; i <= maxCNAME+1; i++ {
		m.Answer = append(m.Answer, rrs(t, "c"+string(rune('0'+i))+".test. 60 IN CNAME c"+string(rune('0'+i+1))+".test.")...)
	}
	m.Answer = append(m.Answer, rrs(t, "c"+string(rune('0'+maxCNAME+2))+".test. 60 IN A 192.0.2.1")...)
	if _, err := readAnswer(m, "c0.test", "c0.test.", dns.TypeA); err == nil {
		t.Errorf("a chain of %d CNAMEs was followed", maxCNAME+2)
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"example.org": true, "example.org.": true, ".": true, "_dmarc.example.org": true, "a-b.c": true,
		"xn--bcher-kva.example": true, "4.3.2.1.zen.example": true,
		"": false, "..": false, "a..b": false, ".a": false, "-a.b": false, "a-.b": false, "a.b-": false,
		"1.2.3.4": false, "a b.c": false, "a\\.b": false, "a/b": false, "é.example": false,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
	l63 := strings.Repeat("a", 63)
	if !validName(l63+".example") || validName(l63+"a.example") {
		t.Error("63-octet label limit")
	}
	n253 := l63 + "." + l63 + "." + l63 + "." + strings.Repeat("a", 61)
	if len(n253) != 253 || !validName(n253) || !validName(n253+".") || validName(n253+"a") || validName(n253+"a.") {
		t.Error("253-octet name limit")
	}
}

func TestParseResolvConf(t *testing.T) {
	for _, tc := range []struct {
		conf string
		want []string
	}{
		{"nameserver 192.0.2.53\n", []string{"192.0.2.53:53"}},
		{"# comment\nsearch example.org\nnameserver 192.0.2.1\nnameserver 2001:db8::1\noptions ndots:3\n",
			[]string{"192.0.2.1:53", "[2001:db8::1]:53"}},
		{"nameserver fe80::1%eth0\n", []string{"[fe80::1%eth0]:53"}},
		{"nameserver ns.example.org\nnameserver 192.0.2.1\n", []string{"192.0.2.1:53"}},
		{"nameserver\n", nil},
		{"", nil},
	} {
		if got := parseResolvConf([]byte(tc.conf)); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.conf, got, tc.want)
		}
	}
}

func TestResolvConfFile(t *testing.T) {
	dir := t.TempDir()
	missing := &resolvConf{path: filepath.Join(dir, "missing")}
	if got := missing.get(); !slices.Equal(got, fallbackServers) {
		t.Errorf("missing file: %v, want %v", got, fallbackServers)
	}
	path := filepath.Join(dir, "resolv.conf")
	os.WriteFile(path, []byte("nameserver 192.0.2.7\n"), 0o644)
	rc := &resolvConf{path: path}
	if got := rc.get(); !slices.Equal(got, []string{"192.0.2.7:53"}) {
		t.Errorf("file: %v", got)
	}
	os.WriteFile(path, []byte("nameserver 192.0.2.8\nnameserver 192.0.2.9\n"), 0o644)
	rc.checked = time.Time{} // as if the recheck interval had passed
	if got := rc.get(); !slices.Equal(got, []string{"192.0.2.8:53", "192.0.2.9:53"}) {
		t.Errorf("changed file: %v", got)
	}
	c := New(Options{ResolvConf: path})
	if got := c.serverList(); len(got) != 2 {
		t.Errorf("client servers: %v", got)
	}
}

func TestNormalizeServer(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1:53", "192.0.2.1:5353": "192.0.2.1:5353", "::1": "[::1]:53", "[::1]:54": "[::1]:54",
		"ns.example": "", "": "",
	} {
		got, ok := normalizeServer(in)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
}

func TestMatchReply(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("example.test.", dns.TypeTXT)
	ok := new(dns.Msg)
	ok.SetReply(q)
	if err := matchReply(q, ok); err != nil {
		t.Errorf("matching reply: %v", err)
	}
	other := ok.Copy()
	other.Question[0].Name = "evil.test."
	wrongType := ok.Copy()
	wrongType.Question[0].Qtype = dns.TypeA
	wrongID := ok.Copy()
	wrongID.Id++
	notResponse := ok.Copy()
	notResponse.Response = false
	noQuestion := ok.Copy()
	noQuestion.Question = nil
	for name, r := range map[string]*dns.Msg{"other name": other, "other type": wrongType, "other ID": wrongID,
		"query": notResponse, "no question": noQuestion} {
		if err := matchReply(q, r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	upper := ok.Copy()
	upper.Question[0].Name = "EXAMPLE.test."
	if err := matchReply(q, upper); err != nil {
		t.Errorf("0x20 case: %v", err)
	}
}
