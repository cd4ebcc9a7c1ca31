package dns

import "net/netip"

// TrustNone makes c believe no server's AD bit, loopback included: the
// tests' stand-in for a resolver elsewhere on the network (the test
// servers can only listen on loopback).
func TrustNone(c *Client) {
	c.trust = func(netip.Addr) bool { return false }
}
