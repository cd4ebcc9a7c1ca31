package spf

import (
	"errors"
	"strings"
	"testing"
)

// TestParseRecordDiagnostics checks the messages of syntax errors (the
// audit shows them) and what a valid record gives: the qualifier of all
// and the terms that cost a DNS lookup.
func TestParseRecordDiagnostics(t *testing.T) {
	cases := []struct {
		txt     string
		err     string // substring; "" means valid
		all     byte
		lookups int // terms that cost a DNS lookup at this level
	}{
		{"v=spf1 -all", "", '-', 0},
		{"v=spf1", "", 0, 0},
		{"V=SPF1 ~ALL", "", '~', 0},
		{"v=spf1 +all", "", '+', 0},
		{"v=spf1 all", "", '+', 0},
		{"v=spf1 ?all", "", '?', 0},
		{"v=spf1 a mx ptr exists:%{i}.x.example include:_spf.example.org redirect=_spf.example.net", "", 0, 6},
		{"v=spf1 a:mail.example.org/24 mx/24//64 a//128 -all", "", '-', 3},
		{"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip4:192.0.2.1 -all", "", '-', 0},
		{"v=spf1  ip4:192.0.2.1   -all", "", '-', 0},
		{"v=spf1 exp=explain.%{d} -all", "", '-', 0},
		{"v=spf1 foo=bar -all", "", '-', 0},
		{"v=spf1 a=b.example -all", "", '-', 0}, // a modifier named a costs nothing
		{"v=spf10 -all", "does not start", 0, 0},
		{"spf1 -all", "does not start", 0, 0},
		{"v=spf1 ip4:300.1.1.1", `ip4: bad address "300.1.1.1"`, 0, 0},
		{"v=spf1 ip4:192.0.2.0/33", `ip4: bad prefix length "33"`, 0, 0},
		{"v=spf1 ip4:192.0.2.0/024", "prefix", 0, 0},
		{"v=spf1 ip4:192.0.2.0/+8", "prefix", 0, 0},
		{"v=spf1 ip6:192.0.2.1", "ip6: bad address", 0, 0},
		{"v=spf1 ip4", "ip4 needs :network", 0, 0},
		{"v=spf1 include", "include needs :domain", 0, 0},
		{"v=spf1 include:", "needs", 0, 0},
		{"v=spf1 all:example.org", "all takes no argument", 0, 0},
		{"v=spf1 a:", "a: empty domain", 0, 0},
		{"v=spf1 mx/33", "mx: bad prefix length", 0, 0},
		{"v=spf1 a/+24", "a: bad argument", 0, 0},
		{"v=spf1 ptr/24", "ptr: bad argument", 0, 0},
		{"v=spf1 frob -all", `unknown mechanism "frob"`, 0, 0},
		{"v=spf1 1foo=bar", "unknown mechanism", 0, 0},
		{"v=spf1 redirect=a.example redirect=b.example", "modifier redirect appears twice", 0, 0},
		{"v=spf1 exp=a.example exp=b.example", "modifier exp appears twice", 0, 0},
		{"v=spf1 redirect=", "modifier redirect needs a domain", 0, 0},
		{"v=spf1 redirect=example", "no top label", 0, 0},
		{"v=spf1 exists:%{z}.example", "bad macro %{z}", 0, 0},
		{"v=spf1 a:%{c}.example.com", "only allowed in exp", 0, 0},
		{"v=spf1 a:%{d0}.example.com", "bad macro %{d0}", 0, 0},
		{"v=spf1 exists:%", "dangling", 0, 0},
		{"v=spf1 exists:%x.example", "bad macro escape %x", 0, 0},
		{"v=spf1 include:a..b", `include: bad domain "a..b"`, 0, 0},
		{"v=spf1 a:example.123", "bad top label", 0, 0},
		{"v=spf1 -all\x00", "not allowed", 0, 0},
		{"v=spf1 ip4:192.0.2.1\t-all", "not allowed", 0, 0},
	}
	for _, c := range cases {
		rec, err := ParseRecord(c.txt)
		if c.err != "" {
			var se *SyntaxError
			if err == nil || !strings.Contains(err.Error(), c.err) || !errors.As(err, &se) {
				t.Errorf("%q: err %v, want %q", c.txt, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.txt, err)
			continue
		}
		q, _ := rec.All()
		if q != c.all {
			t.Errorf("%q: all qualifier %q, want %q", c.txt, q, c.all)
		}
		n := 0
		for _, term := range rec.Terms {
			if term.NeedsLookup() {
				n++
			}
		}
		if n != c.lookups {
			t.Errorf("%q: %d lookup terms, want %d", c.txt, n, c.lookups)
		}
	}
}

// TestParseRecordTerms checks the parts of each term.
func TestParseRecordTerms(t *testing.T) {
	rec, err := ParseRecord("v=spf1 -a:foo/bar.example/24//64 mx//64 ~include:_spf.example ip4:192.0.2.0/24 ptr Exp=why.%{d} redirect=r.example")
	if err != nil {
		t.Fatal(err)
	}
	want := []Term{
		{Qualifier: '-', Name: "a", Arg: "foo/bar.example/24//64", Domain: "foo/bar.example"},
		{Qualifier: '+', Name: "mx", Arg: "//64"},
		{Qualifier: '~', Name: "include", Arg: "_spf.example", Domain: "_spf.example"},
		{Qualifier: '+', Name: "ip4", Arg: "192.0.2.0/24"},
		{Qualifier: '+', Name: "ptr"},
		{Name: "exp", Modifier: true, Arg: "why.%{d}", Domain: "why.%{d}"},
		{Name: "redirect", Modifier: true, Arg: "r.example", Domain: "r.example"},
	}
	if len(rec.Terms) != len(want) {
		t.Fatalf("terms %+v", rec.Terms)
	}
	for i := range want {
		if rec.Terms[i] != want[i] {
			t.Errorf("term %d: %+v, want %+v", i, rec.Terms[i], want[i])
		}
	}
	if rec.Redirect != "r.example" || rec.Exp != "why.%{d}" {
		t.Errorf("redirect %q exp %q", rec.Redirect, rec.Exp)
	}
}
