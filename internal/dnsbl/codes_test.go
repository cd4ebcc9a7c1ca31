package dnsbl

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseCodes(t *testing.T) {
	tests := []struct {
		specs []string
		match []string
		miss  []string
		err   string
	}{
		{specs: nil, match: []string{"127.0.0.2", "127.0.0.255"}, miss: []string{"127.0.1.2", "10.0.0.2", "127.255.255.254"}},
		{specs: []string{"127.0.0.2"}, match: []string{"127.0.0.2"}, miss: []string{"127.0.0.3", "127.0.0.20"}},
		{specs: []string{"127.0.0.3."}, match: []string{"127.0.0.3"}, miss: []string{"127.0.0.2"}},
		{specs: []string{"127.0.0."}, match: []string{"127.0.0.1", "127.0.0.200"}, miss: []string{"127.0.1.1"}},
		{specs: []string{"127."}, match: []string{"127.9.9.9"}, miss: []string{"128.0.0.1"}},
		{specs: []string{"127.0.0.[2-11]"}, match: []string{"127.0.0.2", "127.0.0.11", "127.0.0.5"}, miss: []string{"127.0.0.1", "127.0.0.12"}},
		{specs: []string{"127.0.0.[2,4;9..10]"}, match: []string{"127.0.0.2", "127.0.0.4", "127.0.0.9", "127.0.0.10"}, miss: []string{"127.0.0.3", "127.0.0.11"}},
		{specs: []string{"127.0.*.2"}, match: []string{"127.0.7.2"}, miss: []string{"127.0.7.3"}},
		{specs: []string{"127.0.0.2, 127.0.0.4"}, match: []string{"127.0.0.2", "127.0.0.4"}, miss: []string{"127.0.0.3"}},
		{specs: []string{"127.0.0.2", "127.0.0.10"}, match: []string{"127.0.0.10"}, miss: []string{"127.0.0.3"}},
		{specs: []string{"127.0.0.0/29"}, match: []string{"127.0.0.0", "127.0.0.7"}, miss: []string{"127.0.0.8"}},
		{specs: []string{"127.0.0.8/29"}, match: []string{"127.0.0.8", "127.0.0.15"}, miss: []string{"127.0.0.16", "127.0.0.7"}},
		{specs: []string{"127.0.0.0/16"}, match: []string{"127.0.200.1"}, miss: []string{"127.1.0.0"}},
		{specs: []string{"&0.0.0.4"}, match: []string{"127.0.0.4", "127.0.0.6"}, miss: []string{"127.0.0.2", "10.0.0.4"}},
		{specs: []string{"127.0.0.[1..255]"}, match: []string{"127.0.0.255"}, miss: []string{"127.0.0.0"}},
		{specs: []string{"127.0.0"}, err: "four octets"},
		{specs: []string{"127.0.0.256"}, err: "not a number"},
		{specs: []string{"127.0.0.[5-2]"}, err: "backwards"},
		{specs: []string{"127.0.0.[2-"}, err: "unbalanced"},
		{specs: []string{"127.0.0.[]"}, err: "empty"},
		{specs: []string{"1.2.3.4.5"}, err: "more than four"},
		{specs: []string{"&0.0.0.0"}, err: "zero mask"},
		{specs: []string{"&x"}, err: "mask"},
		{specs: []string{"::1/128"}, err: "IPv4 network"},
		{specs: []string{"127.0.0.-1"}, err: "not a number"},
		{specs: []string{"127.0.0.+1"}, err: "not a number"},
		{specs: []string{strings.Repeat("1", 300)}, err: "too long"},
	}
	for _, tt := range tests {
		c, err := ParseCodes(tt.specs)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseCodes(%q) error %v, want %q", tt.specs, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCodes(%q): %v", tt.specs, err)
			continue
		}
		for _, m := range tt.match {
			if !c.Match(netip.MustParseAddr(m)) {
				t.Errorf("ParseCodes(%q) does not match %s", tt.specs, m)
			}
		}
		for _, m := range tt.miss {
			if c.Match(netip.MustParseAddr(m)) {
				t.Errorf("ParseCodes(%q) matches %s", tt.specs, m)
			}
		}
	}
}

func TestCodesNeverMatchIPv6(t *testing.T) {
	c, _ := ParseCodes([]string{"*.*.*.*"})
	if c.Match(netip.MustParseAddr("::1")) {
		t.Error("an IPv6 answer matched")
	}
	if !c.Match(netip.MustParseAddr("::ffff:127.0.0.2")) {
		t.Error("a mapped IPv4 answer did not match")
	}
}

func TestQueryName(t *testing.T) {
	tests := []struct{ ip, zone, want string }{
		{"192.0.2.99", "bl.example", "99.2.0.192.bl.example."},
		{"127.0.0.2", "zen.example.org.", "2.0.0.127.zen.example.org."},
		{"::ffff:10.1.2.3", "bl.example", "3.2.1.10.bl.example."},
		// RFC 5782 2.4's example.
		{"2001:db8:1:2:3:4:567:89ab", "bl.example",
			"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example."},
	}
	for _, tt := range tests {
		if got := QueryName(netip.MustParseAddr(tt.ip), tt.zone); got != tt.want {
			t.Errorf("QueryName(%s, %s) = %s, want %s", tt.ip, tt.zone, got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	l := &List{Zone: "bl.example."}
	ip := netip.MustParseAddr("192.0.2.1")
	if got := l.Text(ip); got != "Rejected: 192.0.2.1 listed at bl.example" {
		t.Errorf("default text %q", got)
	}
	l.Reply = "see https://bl.example/q?{ip} ($&{client_addr} in {zone})"
	if got := l.Text(ip); got != "see https://bl.example/q?192.0.2.1 (192.0.2.1 in bl.example)" {
		t.Errorf("text %q", got)
	}
	if CheckReply("ok {ip}") != nil || CheckReply("bad\r\n") == nil || CheckReply(strings.Repeat("x", 401)) == nil {
		t.Error("CheckReply")
	}
}

func TestCheckZone(t *testing.T) {
	for _, z := range []string{"zen.spamhaus.org", "bl.example.", "x_y.example"} {
		if err := CheckZone(z); err != nil {
			t.Errorf("CheckZone(%q): %v", z, err)
		}
	}
	for _, z := range []string{"", ".", "a..b", "a b.example", strings.Repeat("a", 64) + ".example"} {
		if CheckZone(z) == nil {
			t.Errorf("CheckZone(%q) accepted", z)
		}
	}
}

func FuzzParseCodes(f *testing.F) {
	for _, s := range []string{"127.0.0.2", "127.0.0.", "127.0.0.[2-11]", "127.0.0.[2;4..6]", "&0.0.0.4", "127.0.0.0/24", "127.0.*.2, 127.0.0.3."} {
		f.Add(s, "127.0.0.2")
	}
	f.Fuzz(func(t *testing.T, spec, answer string) {
		c, err := ParseCodes([]string{spec})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if a, err := netip.ParseAddr(answer); err == nil {
			c.Match(a)
		}
		// The specs given come back in String.
		if c.String() == "" {
			t.Fatal("empty String")
		}
	})
}
