package route

import (
	"net/netip"
	"testing"
)

func TestSelfCheck(t *testing.T) {
	self := SelfCheck([]string{"127.0.0.1:2525", ":25", "localhost:587", "bad"}, []netip.Addr{netip.MustParseAddr("192.0.2.1")})
	for _, c := range []struct {
		ip   string
		port int
		want bool
	}{
		{"127.0.0.1", 2525, true}, {"127.0.0.1", 2526, false}, {"127.0.0.2", 2525, false},
		{"192.0.2.1", 25, true}, {"127.0.0.5", 25, true}, {"198.51.100.1", 25, false},
		{"::1", 587, true}, {"::ffff:127.0.0.1", 587, true}, {"192.0.2.1", 587, false},
	} {
		if got := self(netip.MustParseAddr(c.ip), c.port); got != c.want {
			t.Errorf("%s:%d: %v, want %v", c.ip, c.port, got, c.want)
		}
	}
}
