// Package dns gives postern one resolver, pointed at configured servers
// (or /etc/resolv.conf), that every check and the delivery code share.
// It speaks DNS itself (github.com/miekg/dns) so that it can tell exactly
// what a server answered: SERVFAIL stays a temporary failure, "no such
// name" and "no such record" stay permanent, and each answer carries the
// TTL its records allow (see Cache).
package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// Resolver is what postern needs from DNS. *net.Resolver satisfies it, and
// so does the *Client New returns.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// TTLResolver is a Resolver that also tells how long each answer may be
// reused: the smallest TTL of the records behind it (CNAMEs included), or
// for "does not exist" the negative TTL of RFC 2308 5. A TTL below zero
// means "not known"; zero means "do not keep". Errors other than "not
// found" come with no TTL. Cache uses these methods when its resolver has
// them.
type TTLResolver interface {
	Resolver
	LookupTXTWithTTL(ctx context.Context, name string) ([]string, time.Duration, error)
	LookupMXWithTTL(ctx context.Context, name string) ([]*net.MX, time.Duration, error)
	LookupIPAddrWithTTL(ctx context.Context, host string) ([]net.IPAddr, time.Duration, error)
	LookupHostWithTTL(ctx context.Context, host string) ([]string, time.Duration, error)
	LookupAddrWithTTL(ctx context.Context, addr string) ([]string, time.Duration, error)
}

// DNSSECResolver makes the lookups DANE (RFC 7672) needs, each telling
// whether a validating resolver vouched for its answer. An error is what
// the other lookups give: IsNotFound for NXDOMAIN or no data (the
// result's Secure then says whether the denial was authenticated), a
// temporary failure otherwise (SERVFAIL, which is also what a
// validating resolver answers for bogus data, timeouts), never "no
// records". *Client and *Cache satisfy it.
type DNSSECResolver interface {
	LookupMXDNSSEC(ctx context.Context, name string) (MXResult, error)
	LookupIPAddrDNSSEC(ctx context.Context, host string) (AddrResult, error)
	LookupTLSA(ctx context.Context, port int, proto, host string) (TLSAResult, error)
}

// Options tune the resolver. The zero value means the servers of
// /etc/resolv.conf with a 5 second timeout per query.
type Options struct {
	// Servers are "ip:port" (or a bare IP, meaning port 53), asked in
	// random order. Empty: the nameserver lines of ResolvConf.
	Servers []string
	// Timeout bounds one query to one server; 0 means 5s. A lookup tries
	// every server, twice over those that did not answer, so it may take
	// up to 2 × len(Servers) × Timeout unless ctx ends sooner.
	Timeout time.Duration
	// ResolvConf is the resolver configuration read when Servers is
	// empty; "" means /etc/resolv.conf. When it cannot be read, the
	// servers are 127.0.0.1:53 and [::1]:53.
	ResolvConf string
	// DNSSECTrusted lists the servers, besides loopback ones, whose AD
	// bit the DNSSEC lookups (DNSSECResolver) believe: validating
	// resolvers reached over a path the operator trusts. An answer is
	// Secure only when a server on loopback or in one of these prefixes
	// set AD (RFC 6840 5.8; Postfix's smtp_dns_support_level = dnssec).
	// Empty: loopback servers only. See ParseTrusted.
	DNSSECTrusted []netip.Prefix
}

// New returns a resolver that sends every query to opt.Servers or, when
// none are given, to the servers of /etc/resolv.conf.
func New(opt Options) *Client {
	return newClient(opt)
}

// IsNotFound reports whether err means the name or record does not exist
// (NXDOMAIN or no data), as opposed to a temporary failure.
func IsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// IsTemporary reports whether err is a DNS failure worth retrying later
// (SERVFAIL, REFUSED, timeout, no server reachable).
func IsTemporary(err error) bool {
	if err == nil || IsNotFound(err) {
		return false
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.IsTemporary || de.IsTimeout || !de.IsNotFound
	}
	return true
}
