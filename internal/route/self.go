package route

import (
	"net"
	"net/netip"
	"strconv"
)

// SelfCheck returns the test of whether an address and port is one of
// our listeners (their "host:port" addresses; a wildcard or empty host
// is every address of this host: loopback, unspecified and own): a next
// hop there would send the mail back to us.
func SelfCheck(listeners []string, own []netip.Addr) func(netip.Addr, int) bool {
	type ap struct {
		ip   netip.Addr // invalid: every address of this host
		port int
	}
	var lns []ap
	for _, l := range listeners {
		host, port, err := net.SplitHostPort(l)
		if err != nil {
			continue
		}
		p, _ := strconv.Atoi(port)
		a, _ := netip.ParseAddr(host)
		if host == "localhost" {
			lns = append(lns, ap{netip.MustParseAddr("127.0.0.1"), p}, ap{netip.IPv6Loopback(), p})
			continue
		}
		lns = append(lns, ap{a.Unmap(), p})
	}
	ownAddr := func(ip netip.Addr) bool {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return true
		}
		for _, o := range own {
			if o.Unmap() == ip {
				return true
			}
		}
		return false
	}
	return func(ip netip.Addr, port int) bool {
		ip = ip.Unmap()
		for _, l := range lns {
			if l.port != port {
				continue
			}
			if l.ip.IsValid() && !l.ip.IsUnspecified() {
				if l.ip == ip {
					return true
				}
			} else if ownAddr(ip) {
				return true
			}
		}
		return false
	}
}
