package config

import "strings"

// ARC is the [arc] table: the Authenticated Received Chain (RFC 8617)
// of mail that intermediaries (mailing lists, forwarding services)
// pass on, and our own seal on the mail we forward.
type ARC struct {
	// Verify validates the ARC chain of incoming mail and records it in
	// Authentication-Results (arc=). Default true.
	Verify bool `toml:"verify"`
	// TrustedSealers are the domains (the d= of the newest ARC-Seal)
	// whose passing chain may override a DMARC failure, when their
	// authentication results show the message passed there. Default
	// none.
	TrustedSealers []string `toml:"trusted_sealers"`
	// Seal adds our ARC set to mail that an alias, .forward or
	// virtusertable entry sends on to another domain. Default false.
	Seal bool `toml:"seal"`
	// SealDomain is the d= of our seals; its active DKIM RSA key signs
	// them. Default: the first of local_domains, else hostname.
	SealDomain string `toml:"seal_domain"`
}

func defaultARC() ARC { return ARC{Verify: true} }

// arc validates [arc] and fills its defaults.
func (d *decoder) arc(c *Config) {
	a := &c.ARC
	for i, s := range a.TrustedSealers {
		n, err := NormalizeDomain(s)
		if err != nil || strings.HasPrefix(n, "[") || !strings.Contains(n, ".") {
			d.errorf(indexPath("arc.trusted_sealers", i), "arc.trusted_sealers: %q is not a domain name", s)
			continue
		}
		a.TrustedSealers[i] = n
	}
	if len(a.TrustedSealers) > 0 && !a.Verify {
		d.errorf("arc.trusted_sealers", "arc.trusted_sealers needs arc.verify = true: only a chain that was validated can be trusted")
	}
	if len(a.TrustedSealers) > 0 && !c.DMARC.Check {
		d.warnf("arc.trusted_sealers", "arc.trusted_sealers has no effect with dmarc.check = false")
	}
	switch {
	case a.SealDomain != "":
		n, err := NormalizeDomain(a.SealDomain)
		if err != nil || strings.HasPrefix(n, "[") {
			d.errorf("arc.seal_domain", "arc.seal_domain %q: want a domain name", a.SealDomain)
		} else {
			a.SealDomain = n
		}
	case len(c.LocalDomains) > 0:
		a.SealDomain = c.LocalDomains[0]
	default:
		a.SealDomain = c.Hostname
	}
}
