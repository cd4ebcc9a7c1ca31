package route

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"postern/internal/dane"
	"postern/internal/deliver"
	"postern/internal/dns"
	"postern/internal/maps"
	"postern/internal/mtasts"
	"postern/internal/smtp"
)

// TLSPolicies decide how hard remote delivery insists on TLS with each
// next hop, strongest rule first:
//
//  1. the operator's [[delivery.tls_destination]] for the recipient
//     domain (or a ".parent" of it), then for the server's host name (or
//     a parent), then for its address;
//  2. DANE (RFC 7672): an MX host from a DNSSEC-validated MX answer
//     (or a host of the operator's route) with validated, usable TLSA
//     records gets TLS verified against them, nothing less; a TLSA
//     lookup that fails passes the host over (the mail waits); validated
//     but unusable records make TLS required;
//  3. the recipient domain's MTA-STS policy (RFC 8461), when its MX
//     hosts are used: in mode enforce an MX host the policy does not list
//     is not used and the others need a certificate that verifies; in
//     mode testing failures are logged and mail goes on as below;
//  4. the access map's Try_TLS: entries (host name, address), which never
//     weaken a published policy;
//  5. Default (tls_policy).
//
// Whatever the rule, the access map's TLS_Srv: entry for the server
// raises the result (VERIFY: verify; ENCR: required), never lowers it.
//
// It implements deliver.TLSRules; postern explain prints its choices.
type TLSPolicies struct {
	Default deliver.TLSPolicy
	// Destinations are the policies by domain, ".parent" domain, host
	// name or address ([[delivery.tls_destination]]); names are looked
	// up in lower case.
	Destinations map[string]deliver.TLSPolicy
	// Maps returns the maps in force (the access map); nil: none.
	Maps func() *maps.Maps
	// STS gives the recipient domains' MTA-STS policies (an
	// *mtasts.Cache); nil turns MTA-STS off ([mta_sts] outbound = "off").
	STS STSPolicies
	// DNSSEC, when set, looks up TLSA records for DANE (RFC 7672) with
	// their DNSSEC status; nil turns DANE off.
	DNSSEC dns.DNSSECResolver
	// Reports counts sessions for TLS reports (tlspolicy_report.go); nil: none.
	Reports TLSReports
}

// STSPolicies looks up a domain's MTA-STS policy in force; an error
// means it could not be known, and the mail waits.
type STSPolicies interface {
	Lookup(ctx context.Context, domain string) (mtasts.Decision, error)
}

// replySTSNoMX refuses an MX host that an enforced policy does not list.
var replySTSNoMX = &smtp.Reply{Code: 451, Enhanced: "4.7.5", Text: "MX host not allowed by the destination's MTA-STS policy, will try again"}

// Domain implements deliver.TLSRules.
func (p *TLSPolicies) Domain(ctx context.Context, domain string, viaMX bool) (deliver.DomainTLS, error) {
	d := &domainTLS{p: p, domain: strings.ToLower(strings.TrimSuffix(domain, ".")), viaMX: viaMX}
	if pol, key, ok := p.byName(d.domain); ok {
		d.explicit = &deliver.TLSChoice{Policy: pol, Why: "tls_destination " + key, NameSecure: pol == deliver.PolicyVerify}
		return d, nil
	}
	if !viaMX || p.STS == nil || d.domain == "" || strings.HasPrefix(d.domain, "[") {
		return d, nil
	}
	dec, err := p.STS.Lookup(ctx, d.domain)
	if err != nil {
		return nil, err
	}
	d.sts = dec
	return d, nil
}

// domainTLS is one destination's rules for one delivery attempt.
type domainTLS struct {
	p        *TLSPolicies
	domain   string
	explicit *deliver.TLSChoice // tls_destination for the domain
	sts      mtasts.Decision
	viaMX    bool // the servers come from MX records, not a route of ours
}

// Host implements deliver.DomainTLS.
func (d *domainTLS) Host(ctx context.Context, s deliver.Server) (deliver.TLSChoice, error) {
	c, seen, err := d.host(ctx, s)
	if !d.viaMX {
		c.NameSecure = true // the operator's route names the server
	}
	if err == nil {
		c = d.p.tlsSrv(c, s.Name, s.IP)
	}
	d.report(&c, s, seen, err)
	return c, err
}

// tlsSrv raises a choice to the access map's TLS_Srv: entry for the
// server, which only ever asks for more: VERIFY means verify, ENCR
// means required.
func (p *TLSPolicies) tlsSrv(c deliver.TLSChoice, host string, ip netip.Addr) deliver.TLSChoice {
	if p.Maps == nil {
		return c
	}
	m := p.Maps()
	if m == nil {
		return c
	}
	e, ok := m.Access.TLSServer(host, ip)
	if !ok {
		return c
	}
	want := deliver.PolicyRequired
	if e.TLSReq.Verify {
		want = deliver.PolicyVerify
	}
	if c.Policy.Stricter(want) != c.Policy {
		c.Policy = want
		c.Why += "; raised to " + want.String() + " by access map " + e.Rule()
	}
	return c
}

// host is the choice for one server, with what DANE found for it.
func (d *domainTLS) host(ctx context.Context, s deliver.Server) (deliver.TLSChoice, daneSeen, error) {
	host, ip := s.Name, s.IP
	if d.explicit != nil {
		return *d.explicit, daneSeen{}, nil
	}
	if c, ok := d.p.explicitHost(host, ip); ok {
		return c, daneSeen{}, nil
	}
	if s.IgnorePublished {
		c := d.p.fallback(host, ip)
		c.Why += "; the message's TLS-Required: No header sets DANE and MTA-STS aside"
		return c, daneSeen{}, nil
	}
	dn, err := d.p.dane(ctx, s)
	if err != nil {
		return deliver.TLSChoice{Why: "DANE"}, daneSeen{failed: err}, err
	}
	if dn.Mode == dane.ModeVerify {
		return daneChoice(dn), daneSeen{dec: dn}, nil
	}
	c, err := d.published(host, ip)
	if err == nil && dn.Mode == dane.ModeEncrypt && c.Policy.Stricter(deliver.PolicyRequired) != c.Policy {
		c.Policy = deliver.PolicyRequired
		c.Why += "; raised to required: " + dn.Why
	}
	return c, daneSeen{dec: dn}, err
}

// published is the choice from the domain's MTA-STS policy, else the
// access map and the default.
func (d *domainTLS) published(host string, ip netip.Addr) (deliver.TLSChoice, error) {
	if pol := d.sts.Policy; pol != nil {
		why := fmt.Sprintf("MTA-STS policy of %s, mode %s (%s)", d.domain, pol.Mode, d.sts.Reason)
		listed := pol.Matches(host)
		if pol.Mode == mtasts.Enforce {
			if !listed {
				return deliver.TLSChoice{Why: why}, replySTSNoMX.With(fmt.Errorf("%s is not among mx: %s of the %s",
					host, strings.Join(pol.MX, ", "), why))
			}
			return deliver.TLSChoice{Policy: deliver.PolicyVerify, Why: why, NameSecure: true}, nil
		}
		c := d.p.fallback(host, ip)
		c.Why += "; " + why + ": not enforced"
		c.NameSecure = listed
		if !listed {
			c.Why += ", and " + host + " is not among its mx"
		}
		return c, nil
	}
	c := d.p.fallback(host, ip)
	if d.sts.Reason != "" {
		c.Why += "; " + d.sts.Reason
	}
	return c, nil
}

// explicitHost is the tls_destination of a server's name or address.
func (p *TLSPolicies) explicitHost(host string, ip netip.Addr) (deliver.TLSChoice, bool) {
	if pol, key, ok := p.byName(host); ok {
		return deliver.TLSChoice{Policy: pol, Why: "tls_destination " + key, NameSecure: pol == deliver.PolicyVerify}, true
	}
	if ip.IsValid() {
		if pol, ok := p.Destinations[ip.String()]; ok {
			return deliver.TLSChoice{Policy: pol, Why: "tls_destination " + ip.String(), NameSecure: pol == deliver.PolicyVerify}, true
		}
	}
	return deliver.TLSChoice{}, false
}

// fallback is the policy where no published policy applies: Try_TLS:,
// else the default.
func (p *TLSPolicies) fallback(host string, ip netip.Addr) deliver.TLSChoice {
	if pol, ok := p.tryTLS(host, ip); ok {
		who := host
		if ip.IsValid() {
			who += " [" + ip.String() + "]"
		}
		return deliver.TLSChoice{Policy: pol, Why: "access map Try_TLS: entry for " + who}
	}
	return deliver.TLSChoice{Policy: p.Default, Why: "default tls_policy " + p.Default.String()}
}

// byName finds the policy of a name or of the nearest ".parent", and the
// key it was found under.
func (p *TLSPolicies) byName(name string) (deliver.TLSPolicy, string, bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" {
		return 0, "", false
	}
	if pol, ok := p.Destinations[name]; ok {
		return pol, name, true
	}
	for d := name; ; {
		_, parent, ok := strings.Cut(d, ".")
		if !ok || parent == "" {
			return 0, "", false
		}
		if pol, ok := p.Destinations["."+parent]; ok {
			return pol, "." + parent, true
		}
		d = parent
	}
}

// tryTLS is the access map's Try_TLS: entry for the host or address.
func (p *TLSPolicies) tryTLS(host string, ip netip.Addr) (deliver.TLSPolicy, bool) {
	if p.Maps == nil {
		return 0, false
	}
	m := p.Maps()
	if m == nil {
		return 0, false
	}
	e, ok := m.Access.TryTLS(host, ip)
	if !ok {
		return 0, false
	}
	switch e.TLS {
	case maps.TLSNever:
		return deliver.PolicyNever, true
	case maps.TLSMay:
		return deliver.PolicyMay, true
	case maps.TLSRequired:
		return deliver.PolicyRequired, true
	}
	return 0, false
}
