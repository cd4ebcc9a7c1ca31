package route

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"postern/internal/deliver"
	"postern/internal/dns"
	"postern/internal/maps"
)

// MXResolver looks up a domain's MX hosts for Describe.
type MXResolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// Describe tells, for postern explain, the TLS policy delivery would use
// with each server of a destination, and why: the recipient domain's MX
// hosts (looked up with r) when viaMX, else hosts (a route or the
// smarthost). It asks the same rules as delivery, MTA-STS cache
// included.
// port is the SMTP port of the servers (remote_port), for DANE's TLSA
// names.
func (p *TLSPolicies) Describe(ctx context.Context, r MXResolver, domain string, viaMX bool, hosts []string, port int) []string {
	d, err := p.Domain(ctx, domain, viaMX)
	if err != nil {
		return []string{"TLS: not known now, delivery would wait (451 4.7.5): " + err.Error()}
	}
	secure := !viaMX // the operator's route
	if viaMX {
		hosts, secure, err = p.mxNames(ctx, r, domain)
		if err != nil {
			return []string{"TLS: the MX hosts are not known now: " + err.Error()}
		}
	}
	var out []string
	for _, h := range hosts {
		c, err := d.Host(ctx, deliver.Server{Name: h, Port: port, MXSecure: secure})
		if err != nil {
			out = append(out, fmt.Sprintf("TLS with %s: not used: %v", h, err))
			continue
		}
		out = append(out, fmt.Sprintf("TLS with %s: %s (%s)", h, c.Policy, c.Why))
	}
	return out
}

// mxNames are domain's MX host names, most preferred first (the domain
// itself when it has none), and whether the answer was DNSSEC-validated
// (asked only when DANE is on).
func (p *TLSPolicies) mxNames(ctx context.Context, r MXResolver, domain string) ([]string, bool, error) {
	if r == nil {
		return []string{domain}, false, nil
	}
	var mx []*net.MX
	var err error
	secure := false
	if p.DNSSEC != nil {
		var res dns.MXResult
		res, err = p.DNSSEC.LookupMXDNSSEC(ctx, domain)
		mx, secure = res.MX, res.Secure
	} else {
		mx, err = r.LookupMX(ctx, domain)
	}
	if err != nil && !dns.IsNotFound(err) {
		return nil, false, err
	}
	slices.SortStableFunc(mx, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	var out []string
	for _, m := range mx {
		if h := strings.ToLower(strings.TrimSuffix(m.Host, ".")); h != "" {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		out = []string{domain}
	}
	return out, secure, nil
}

// DescribeRoute is Describe for the way mail for domain would leave: by
// its mailertable route (mt), else through the smarthost, else to its
// MX hosts, as the Dispatcher and deliver.Remote choose.
func (p *TLSPolicies) DescribeRoute(ctx context.Context, r MXResolver, mt *maps.Mailertable, smarthost *deliver.Hop, domain string, port int) []string {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if route, ok := mt.Lookup(domain); ok {
		if !route.IsSMTP() {
			return []string{"TLS: not used (" + route.Rule() + ")"}
		}
		var hosts []string
		for _, h := range route.Hops {
			hosts = append(hosts, h.Host)
		}
		return append([]string{"route: " + route.Rule()}, p.Describe(ctx, r, domain, false, hosts, port)...)
	}
	if smarthost != nil {
		return append([]string{"route: smarthost " + smarthost.String()}, p.Describe(ctx, r, "", false, []string{smarthost.Host}, port)...)
	}
	return append([]string{"route: the MX hosts of " + domain}, p.Describe(ctx, r, domain, true, nil, port)...)
}
