package route

import (
	"net/netip"
	"strings"

	"postern/internal/deliver"
	"postern/internal/maps"
)

// TLSPolicies decides how hard remote delivery insists on STARTTLS with
// a next hop: the policy of the recipient domain (or of a ".parent" of
// it), else of the server's host name (or a parent), else of its
// address, else the access map's Try_TLS: entries (host name, address),
// else Default.
type TLSPolicies struct {
	Default deliver.TLSPolicy
	// Destinations are the policies by domain, ".parent" domain, host
	// name or address ([[delivery.tls_destination]]); names are looked
	// up in lower case.
	Destinations map[string]deliver.TLSPolicy
	// Maps returns the maps in force (the access map); nil: none.
	Maps func() *maps.Maps
}

// Lookup is deliver.Remote's TLSPolicy function.
func (p *TLSPolicies) Lookup(domain, host string, ip netip.Addr) deliver.TLSPolicy {
	if pol, ok := p.byName(domain); ok {
		return pol
	}
	if pol, ok := p.byName(host); ok {
		return pol
	}
	if pol, ok := p.Destinations[ip.String()]; ok {
		return pol
	}
	if pol, ok := p.tryTLS(host, ip); ok {
		return pol
	}
	return p.Default
}

// byName finds the policy of a name or of the nearest ".parent".
func (p *TLSPolicies) byName(name string) (deliver.TLSPolicy, bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" {
		return 0, false
	}
	if pol, ok := p.Destinations[name]; ok {
		return pol, true
	}
	for d := name; ; {
		_, parent, ok := strings.Cut(d, ".")
		if !ok || parent == "" {
			return 0, false
		}
		if pol, ok := p.Destinations["."+parent]; ok {
			return pol, true
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
