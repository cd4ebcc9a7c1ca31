package maps

import "strings"

// Masquerade is sendmail's masquerading of outbound senders:
// MASQUERADE_AS, MASQUERADE_DOMAIN, FEATURE(masquerade_entire_domain) and
// EXPOSED_USER. The zero value (As empty) changes nothing.
type Masquerade struct {
	As string // the domain senders are rewritten to
	// Domains are masqueraded: sendmail's class w (our own host names)
	// plus MASQUERADE_DOMAIN. Usually local_domains and local-host-names.
	Domains []string
	// EntireDomain also masquerades every subdomain of Domains.
	EntireDomain bool
	// Exposed users (EXPOSED_USER, e.g. root) keep their host name.
	Exposed []string
}

// Rewrite returns addr with its domain replaced by As when the domain is
// one of Domains (or a subdomain, with EntireDomain) and the user is not
// exposed; an unqualified user gets "@As". The null sender is unchanged.
// changed reports whether anything was rewritten.
func (m Masquerade) Rewrite(addr string) (out string, changed bool) {
	if m.As == "" || strings.TrimSpace(addr) == "" || strings.TrimSpace(addr) == "<>" {
		return addr, false
	}
	as := lookupDomain(m.As)
	local, domain, hasAt := splitAddress(strings.TrimSpace(addr))
	if local == "" {
		return addr, false
	}
	for _, e := range m.Exposed {
		if strings.EqualFold(e, local) {
			return addr, false
		}
	}
	if !hasAt {
		return local + "@" + as, true
	}
	d := lookupDomainOrLiteral(domain)
	if d == as {
		return addr, false
	}
	for _, md := range m.Domains {
		md = lookupDomainOrLiteral(md)
		if d == md || (m.EntireDomain && inDomain(d, md)) {
			return local + "@" + as, true
		}
	}
	return addr, false
}
