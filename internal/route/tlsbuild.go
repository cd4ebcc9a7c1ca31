package route

import (
	"crypto/x509"
	"fmt"
	"log/slog"

	"postern/internal/deliver"
	"postern/internal/dns"
	"postern/internal/mtasts"
	"postern/internal/tlsutil"
)

// TLSSettings are the outbound TLS settings of the configuration, as
// plain values.
type TLSSettings struct {
	Default      string            // tls_policy
	Destinations map[string]string // [[delivery.tls_destination]]: destination → policy
	CAFile       string            // tls_ca_file: more roots for verify and MTA-STS
	DANE         bool              // dane = "enforce"
	MTASTS       bool              // [mta_sts] outbound = "enforce"
	// STSDir keeps the MTA-STS policies; STSReadOnly reads them without
	// ever writing there (postern explain, run as root).
	STSDir      string
	STSReadOnly bool
}

// TLS is what NewTLS builds: the rules, the roots that verify servers
// (nil: the system's) and the MTA-STS cache (nil when off), whose Run
// the server starts.
type TLS struct {
	Policies *TLSPolicies
	Roots    *x509.CertPool
	STS      *mtasts.Cache
}

// NewTLS builds the outbound TLS rules from s, the same for the server
// and for postern explain: the MTA-STS policies kept on disk are loaded
// (a directory that cannot be read is an error), DANE asks r when it can
// tell DNSSEC status.
func NewTLS(s TLSSettings, r dns.Resolver, log *slog.Logger) (TLS, error) {
	def, err := deliver.ParseTLSPolicy(s.Default)
	if err != nil {
		return TLS{}, fmt.Errorf("delivery.tls_policy: %w", err)
	}
	p := &TLSPolicies{Default: def, Destinations: map[string]deliver.TLSPolicy{}}
	for dest, v := range s.Destinations {
		if p.Destinations[dest], err = deliver.ParseTLSPolicy(v); err != nil {
			return TLS{}, fmt.Errorf("delivery.tls_destination %s: %w", dest, err)
		}
	}
	out := TLS{Policies: p}
	if out.Roots, err = tlsutil.SystemRootsWith(s.CAFile); err != nil {
		return TLS{}, fmt.Errorf("delivery.tls_ca_file: %w", err)
	}
	if dr, ok := r.(dns.DNSSECResolver); ok && s.DANE {
		p.DNSSEC = dr
	}
	if s.MTASTS {
		c := &mtasts.Cache{Dir: s.STSDir, ReadOnly: s.STSReadOnly, Resolver: r, Log: log,
			Client: mtasts.NewClient((&mtasts.Dialer{Resolver: r}).DialContext, out.Roots, 0)}
		if err := c.Load(); err != nil {
			return TLS{}, fmt.Errorf("MTA-STS policy cache %s: %w (fix its permissions, or remove it to fetch the policies again)", s.STSDir, err)
		}
		p.STS, out.STS = c, c
	}
	return out, nil
}
