package route

import (
	"net/netip"
	"testing"

	"postern/internal/inbound"
)

func TestFromOwnUsers(t *testing.T) {
	trusted := func(ip netip.Addr) bool { return ip == netip.MustParseAddr("10.0.0.1") }
	applies := FromOwnUsers(trusted)
	for _, c := range []struct {
		conn inbound.Conn
		want bool
	}{
		{inbound.Conn{AuthUser: "alice@example.test"}, true},
		{inbound.Conn{LocalUser: "cron"}, true},
		{inbound.Conn{}, true}, // no address: a local socket
		{inbound.Conn{Remote: netip.MustParseAddrPort("10.0.0.1:4000")}, true},
		{inbound.Conn{Remote: netip.MustParseAddrPort("192.0.2.1:4000")}, false},
	} {
		if got := applies(&inbound.Txn{Conn: &c.conn}); got != c.want {
			t.Errorf("%+v: %v", c.conn, got)
		}
	}
}
