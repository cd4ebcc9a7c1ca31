package server

import (
	"net"
	"net/netip"
)

// ListenAddrs lists the addresses a TCP listener answers on: its own, or
// every interface address for a wildcard listener.
func ListenAddrs(ln net.Listener) []netip.Addr {
	a := ln.Addr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	if a.IsUnspecified() {
		return InterfaceAddrs()
	}
	return []netip.Addr{a}
}

// ConfiguredAddrs lists the addresses listeners at these "host:port"
// addresses would answer on, without binding them: a wildcard or empty
// host is every interface address; a host that is not an address is
// left out.
func ConfiguredAddrs(addrs []string) []netip.Addr {
	var out []netip.Addr
	for _, l := range addrs {
		host, _, err := net.SplitHostPort(l)
		if err != nil {
			continue
		}
		a, err := netip.ParseAddr(host)
		if host == "" || err == nil && a.IsUnspecified() {
			out = append(out, InterfaceAddrs()...)
			continue
		}
		if err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// InterfaceAddrs lists the addresses of this host's interfaces.
func InterfaceAddrs() []netip.Addr {
	var out []netip.Addr
	ifaddrs, _ := net.InterfaceAddrs()
	for _, ia := range ifaddrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}
