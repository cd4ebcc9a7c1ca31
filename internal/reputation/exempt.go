// Package reputation holds the connection-time checks of inbound mail:
// DNS block lists, forward-confirmed reverse DNS, the early-talker greet
// pause and HELO/EHLO checks. Each check is an inbound checker, runs only
// on the listeners it is given, and skips exempt clients (trusted
// networks, the allow-list, authenticated users).
package reputation

import (
	"net/netip"
	"strings"

	"postern/internal/inbound"
	"postern/internal/smtp"
)

// Exempt says which clients skip the checks.
type Exempt struct {
	// Networks are trusted_networks and the allow-list.
	Networks []netip.Prefix
}

// Client reports whether the connection's client is exempt: in one of
// the networks, or authenticated.
func (e Exempt) Client(c *inbound.Conn) bool {
	if c.AuthUser != "" {
		return true
	}
	return e.Addr(c.IP())
}

// Addr reports whether ip is in one of the networks.
func (e Exempt) Addr(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range e.Networks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// isPostmaster reports whether the recipient is a postmaster address,
// which must stay reachable by a refused client to sort things out.
func isPostmaster(to smtp.Path) bool {
	// RFC 5321 4.5.1: "postmaster" is case-insensitive and must be accepted.
	return strings.EqualFold(to.Local, "postmaster")
}
