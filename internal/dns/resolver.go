// Package dns gives postern one resolver, pointed at configured servers
// (or /etc/resolv.conf), that every check and the delivery code share.
package dns

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"time"
)

// Resolver is what postern needs from DNS. *net.Resolver satisfies it, and
// so does the value New returns.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Options tune the resolver. The zero value means the system resolver
// configuration with a 5 second timeout per query.
type Options struct {
	Servers []string      // "host:port" list; empty: /etc/resolv.conf
	Timeout time.Duration // per query; 0 means 5s
}

// New returns a resolver that sends every query to opt.Servers (in
// random order on retry) or, when none are given, follows the system
// configuration.
func New(opt Options) *net.Resolver {
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Second
	}
	// StrictErrors: a SERVFAIL or timeout on one of the queries behind a
	// lookup (A and AAAA, search names) fails the lookup as temporary,
	// instead of letting "no such host" stand: a mail server must retry
	// then, not bounce or treat the domain as having no records.
	if len(opt.Servers) == 0 {
		return &net.Resolver{PreferGo: true, StrictErrors: true}
	}
	servers := append([]string(nil), opt.Servers...)
	d := net.Dialer{Timeout: opt.Timeout}
	return &net.Resolver{
		PreferGo:     true,
		StrictErrors: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			start := rand.IntN(len(servers))
			var last error
			for i := range servers {
				c, err := d.DialContext(ctx, network, servers[(start+i)%len(servers)])
				if err == nil {
					return c, nil
				}
				last = err
			}
			return nil, last
		},
	}
}

// IsNotFound reports whether err means the name or record does not exist
// (NXDOMAIN or no data), as opposed to a temporary failure.
func IsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// IsTemporary reports whether err is a DNS failure worth retrying later
// (SERVFAIL, timeout, no server reachable).
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
