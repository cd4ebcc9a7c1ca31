package audit

import (
	"strings"
	"testing"
)

func TestParseSPF(t *testing.T) {
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
		{"v=spf10 -all", "does not start", 0, 0},
		{"spf1 -all", "does not start", 0, 0},
		{"v=spf1 ip4:300.1.1.1", "bad address", 0, 0},
		{"v=spf1 ip4:192.0.2.0/33", "prefix", 0, 0},
		{"v=spf1 ip4:192.0.2.0/024", "prefix", 0, 0},
		{"v=spf1 ip6:192.0.2.1", "bad address", 0, 0},
		{"v=spf1 ip4", "needs", 0, 0},
		{"v=spf1 include", "needs", 0, 0},
		{"v=spf1 include:", "needs", 0, 0},
		{"v=spf1 all:example.org", "no argument", 0, 0},
		{"v=spf1 a:", "empty domain", 0, 0},
		{"v=spf1 mx/33", "prefix", 0, 0},
		{"v=spf1 frob -all", "unknown mechanism", 0, 0},
		{"v=spf1 redirect=a.example redirect=b.example", "twice", 0, 0},
		{"v=spf1 redirect=", "needs a domain", 0, 0},
		{"v=spf1 exists:%{z}.example", "bad macro", 0, 0},
		{"v=spf1 exists:%", "dangling", 0, 0},
		{"v=spf1 include:a..b", "bad domain", 0, 0},
		{"v=spf1 -all\x00", "not allowed", 0, 0},
		{"v=spf1 ip4:192.0.2.1\t-all", "not allowed", 0, 0},
	}
	for _, c := range cases {
		rec, err := ParseSPF(c.txt)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
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
			if spfLookupTerms[term.Name] {
				n++
			}
		}
		if n != c.lookups {
			t.Errorf("%q: %d lookup terms, want %d", c.txt, n, c.lookups)
		}
	}
}

func FuzzParseSPF(f *testing.F) {
	for _, s := range []string{"v=spf1 -all", "v=spf1 a mx/24//64 include:x.example ~all", "v=spf1 exists:%{ir}.%{v}._spf.%{d2} redirect=x", "v=spf1 ip6:::1/128"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := ParseSPF(s)
		if err == nil && rec == nil {
			t.Fatal("nil record without error")
		}
		if err == nil {
			rec.All()
		}
	})
}
