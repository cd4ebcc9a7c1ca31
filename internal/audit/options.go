// Package audit checks a mail server against the hardening checklist:
// open relay probes, STARTTLS and certificates, AUTH exposure, VRFY/EXPN,
// banner, SMTP smuggling, and the DNS records of the domain. It works
// against any SMTP server. The sendmail.mc linter lives in sendmailcf.
package audit

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"postern/internal/dns"
)

// Options describe one audit. Zero values are safe: loopback targets
// only, no smuggling probe, no DNS checks without a Domain.
type Options struct {
	// Target is "host[:port]" of the MTA port; the port defaults to 25.
	Target string
	// SubmissionPort is checked for STARTTLS and AUTH too; 0 skips it.
	SubmissionPort int
	// Domain is the mail domain whose DNS records are checked and whose
	// addresses serve as "local" senders in the relay probes. "" skips
	// the DNS checks and takes the domain from the banner's host name.
	Domain string
	// RelayTestDomain is the foreign recipient domain of the relay probes.
	// It must not be local to the target; "" means "relay-test.invalid"
	// (RFC 2606: .invalid never resolves, so nothing could be delivered
	// even by an open relay, and no DATA is ever sent anyway).
	RelayTestDomain string
	// From is the source address of our connections (nil: any). Use an
	// address the target does not trust, or the relay probes prove
	// nothing (most servers let their own networks relay).
	From net.IP
	// AllowRemote permits a target outside 127.0.0.0/8 and ::1. Without
	// it the audit refuses to contact any other address.
	AllowRemote bool
	// TLSName is the name the certificate must be valid for; "" means the
	// host name the banner announces.
	TLSName string
	// RootCAs verify the certificate chain; nil means the system roots.
	RootCAs *x509.CertPool
	// DKIMSelectors are looked up under _domainkey.Domain.
	DKIMSelectors []string
	// DNSBLs are the zones the server's address is looked up in.
	DNSBLs []string
	// Smuggling enables the SMTP smuggling probe, which sends real
	// messages to SmugglingRcpt (a local mailbox of the target).
	Smuggling     bool
	SmugglingRcpt string
	// Timeout bounds every network step; 0 means 20 seconds.
	Timeout time.Duration
	// Resolver answers the DNS checks and resolves the target name.
	Resolver dns.Resolver
	// HTTPClient fetches the MTA-STS policy (RFC 8461 3.3). nil means a
	// client that resolves names through Resolver, connects only to
	// loopback unless AllowRemote, verifies certificates against the
	// system roots and gives up after Timeout. Redirects are never
	// followed, whatever the client.
	HTTPClient *http.Client
	// Now is the clock for certificate expiry; nil means time.Now.
	Now func() time.Time
}

// defaultRelayTestDomain is in the .invalid TLD (RFC 2606 2), which can
// never be local to any server nor be delivered to.
const defaultRelayTestDomain = "relay-test.invalid"

// ErrNotLoopback is returned for a target outside loopback when remote
// targets were not explicitly allowed.
var ErrNotLoopback = errors.New("not a loopback address, and auditing a server on a real network was not allowed")

// resolveTarget turns Options.Target into one checked IP:port.
func resolveTarget(ctx context.Context, o *Options) (addr string, host string, port int, err error) {
	host, ps, err := net.SplitHostPort(o.Target)
	if err != nil {
		host, ps = o.Target, "25"
	}
	port, err = strconv.Atoi(ps)
	if err != nil || port <= 0 || port > 65535 {
		return "", "", 0, fmt.Errorf("bad port in target %q", o.Target)
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("no host in target %q", o.Target)
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		if o.Resolver == nil {
			return "", "", 0, errors.New("no resolver to look up the target name")
		}
		as, err := o.Resolver.LookupIPAddr(ctx, host)
		if err != nil {
			return "", "", 0, fmt.Errorf("looking up %s: %w", host, err)
		}
		for _, a := range as {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if ip.IsLoopback() || o.AllowRemote {
			if o.From != nil && !o.AllowRemote && !o.From.IsLoopback() {
				return "", "", 0, fmt.Errorf("source address %s: %w", o.From, ErrNotLoopback)
			}
			return net.JoinHostPort(ip.String(), strconv.Itoa(port)), host, port, nil
		}
	}
	return "", "", 0, fmt.Errorf("%s (%v): %w", host, ips, ErrNotLoopback)
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// logger returns l or a logger that discards.
func logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
