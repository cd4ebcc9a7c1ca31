package dns

import (
	"net/netip"
	"slices"
	"testing"
)

func TestParseTrusted(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want []string // prefixes; nil with bad
		bad  bool
	}{
		{in: nil, want: nil},
		{in: []string{"192.0.2.53"}, want: []string{"192.0.2.53/32"}},
		{in: []string{"10.1.2.3/8", "2001:db8::1"}, want: []string{"10.0.0.0/8", "2001:db8::1/128"}},
		{in: []string{"::ffff:192.0.2.1"}, want: []string{"192.0.2.1/32"}}, // an IPv4 server, however written
		{in: []string{"::ffff:192.0.2.0/120"}, want: []string{"192.0.2.0/24"}},
		{in: []string{"fe80::1%eth0"}, want: []string{"fe80::1/128"}}, // zones do not count
		{in: []string{"2001:db8::/32"}, want: []string{"2001:db8::/32"}},
		{in: []string{""}, bad: true},
		{in: []string{"resolver.example"}, bad: true},
		{in: []string{"192.0.2.1/33"}, bad: true},
		{in: []string{" 192.0.2.1"}, bad: true},
		{in: []string{"192.0.2.1", "nope"}, bad: true},
		{in: []string{"192.0.2.1:53"}, bad: true},
	} {
		got, err := ParseTrusted(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q: accepted as %v", c.in, got)
			}
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if err != nil || !slices.Equal(s, c.want) {
			t.Errorf("%q: %v %v, want %v", c.in, s, err, c.want)
		}
	}
}

func TestTrustRule(t *testing.T) {
	list, err := ParseTrusted([]string{"192.0.2.0/24", "2001:db8::53"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(Options{Servers: []string{"127.0.0.1"}, DNSSECTrusted: list})
	for server, want := range map[string]bool{
		"127.0.0.1:53":          true, // loopback always
		"[::1]:53":              true,
		"192.0.2.9:53":          true,
		"[::ffff:192.0.2.9]:53": true,
		"[2001:db8::53]:53":     true,
		"[2001:db8::54]:53":     false,
		"198.51.100.1:53":       false,
		"not an address":        false,
		"[fe80::1%eth0]:53":     false,
	} {
		if got := c.trusted(server); got != want {
			t.Errorf("trusted(%q) = %v, want %v", server, got, want)
		}
	}
	// The client keeps its own copy of the list.
	list[0] = netip.MustParsePrefix("198.51.100.0/24")
	if c.trusted("198.51.100.1:53") {
		t.Error("the caller's list changed the client's")
	}
	TrustNone(c)
	if c.trusted("127.0.0.1:53") {
		t.Error("TrustNone trusts loopback")
	}
}

func TestTLSAName(t *testing.T) {
	for _, c := range []struct {
		port        int
		proto, host string
		want        string // "" for an error
	}{
		{25, "tcp", "mx.example.org", "_25._tcp.mx.example.org."},
		{25, "TCP", "mx.example.org.", "_25._tcp.mx.example.org."},
		{0, "udp", "x.test", "_0._udp.x.test."},
		{65535, "tcp", "x.test", "_65535._tcp.x.test."},
		{65536, "tcp", "x.test", ""},
		{-25, "tcp", "x.test", ""},
		{25, "", "x.test", ""},
		{25, "tcp.x", "x.test", ""},
		{25, "t p", "x.test", ""},
		{25, "tcp", "", ""},
		{25, "tcp", ".", ""},
		{25, "tcp", "a..b", ""},
		{25, "tcp", "-bad-.test", ""},
	} {
		got, err := TLSAName(c.port, c.proto, c.host)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("TLSAName(%d, %q, %q) = %q %v, want %q", c.port, c.proto, c.host, got, err, c.want)
		}
	}
}
