package auditflags

import (
	"io"
	"reflect"
	"testing"
)

func TestOwnFillsOnlyFlagsNotGiven(t *testing.T) {
	s := Server{MTA: []string{"127.0.0.1:25"}, Submission: []string{"127.0.0.1:1587"},
		LocalDomains: []string{"example.test"}, DNSServers: []string{"127.0.0.1:5353"}, Hostname: "mx.example.test"}
	for _, tc := range []struct {
		args             []string
		wantPos          []string
		wantDomain       string
		wantSub          int
		wantDNS, wantTLS string
	}{
		{nil, []string{"127.0.0.1:25"}, "example.test", 1587, "127.0.0.1:5353", "mx.example.test"},
		{[]string{"-domain", "other.test", "-submission", "0", "host:2525"}, []string{"host:2525"}, "other.test", 0, "127.0.0.1:5353", "mx.example.test"},
		{[]string{"-dns", "127.0.0.2:53", "-tls-name", "a.test"}, []string{"127.0.0.1:25"}, "example.test", 1587, "127.0.0.2:53", "a.test"},
	} {
		f := New()
		f.FS.SetOutput(io.Discard)
		if err := f.FS.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		f.Parsed()
		pos := f.Own(s, f.FS.Args())
		if !reflect.DeepEqual(pos, tc.wantPos) || *f.domain != tc.wantDomain || *f.submission != tc.wantSub ||
			*f.dnsServer != tc.wantDNS || *f.tlsName != tc.wantTLS {
			t.Errorf("%q: pos %q domain %q sub %d dns %q tls %q", tc.args, pos, *f.domain, *f.submission, *f.dnsServer, *f.tlsName)
		}
	}
}

func TestOptionsRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-smuggling"}, {"-from", "not-an-ip"}, {"-ca", "/nonexistent/ca.pem"}} {
		f := New()
		f.FS.SetOutput(io.Discard)
		if err := f.FS.Parse(args); err != nil {
			t.Fatal(err)
		}
		f.Parsed()
		if _, ok := f.Options("127.0.0.1:25", io.Discard); ok {
			t.Errorf("%q: accepted", args)
		}
	}
	f := New()
	_ = f.FS.Parse(nil)
	f.Parsed()
	opt, ok := f.Options("127.0.0.1:25", io.Discard)
	if !ok || opt.DNSBLs != nil || opt.SubmissionPort != 587 {
		t.Errorf("defaults for a loopback target: %+v, %v; want no DNSBLs and port 587", opt, ok)
	}
}

func TestList(t *testing.T) {
	if got := List(" a, ,b,"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("List = %q", got)
	}
	if got := List(""); got != nil {
		t.Errorf("List(\"\") = %q", got)
	}
}
