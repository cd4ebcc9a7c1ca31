package route

import "postern/internal/maps"

// MapDomains is a domain list of maps_dir (local-host-names,
// relay-domains) as the relay decision asks it (policy.Domains), read
// from the maps in force at each lookup so that a reload takes effect at
// once.
type MapDomains struct {
	Maps func() *maps.Maps
	List func(*maps.Maps) *maps.DomainList
}

// Match reports whether domain is in the list, with the rule that says so.
func (d MapDomains) Match(domain string) (string, bool) {
	m, ok := d.List(d.Maps()).Contains(domain)
	if !ok {
		return "", false
	}
	return m.Rule(), true
}
