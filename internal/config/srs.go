package config

import (
	"path/filepath"
	"strings"
	"time"
)

// SRS is the [srs] table: the Sender Rewriting Scheme for mail that an
// alias, .forward, virtusertable entry or list sends on to another
// domain. The envelope sender of such mail becomes an SRS address in
// Domain, so that the next hop's SPF check passes; bounces to it are
// checked and sent back to the original sender.
type SRS struct {
	// Enabled turns SRS on; when the key is absent it is on whenever the
	// configuration can forward (maps_dir, forward_path or a
	// luser_relay address).
	Enabled bool `toml:"enabled"`
	// Domain is where the SRS addresses live: its MX must point here
	// and its SPF record must allow this host. Default: hostname.
	Domain string `toml:"domain"`
	// MaxAge is how long a bounce to an SRS address is accepted, in
	// whole days. Default: 21 days ("504h"), as postsrsd.
	MaxAge time.Duration `toml:"max_age"`
	// ExcludeDomains are sender domains that are never rewritten,
	// besides our own (local_domains, the host name and Domain); an
	// entry starting with "." covers the subdomains, as in postsrsd.
	ExcludeDomains []string `toml:"exclude_domains"`
}

// DefaultSRSMaxAge is libsrs2's and postsrsd's 21 days.
const DefaultSRSMaxAge = 21 * 24 * time.Hour

// srsStampDays is how many days the SRS timestamp tells apart.
const srsStampDays = 1024

// SRSKeysFile is the SRS keys file: one secret per line, the signing
// one first (postsrsd's secrets file format).
func (c *Config) SRSKeysFile() string { return filepath.Join(c.DataDir, "srs", "secrets") }

// CanForward reports whether the configuration can send mail for a
// local address on to another domain.
func (c *Config) CanForward() bool {
	return c.MapsDir != "" || len(c.Delivery.ForwardPath) > 0 || strings.Contains(c.Delivery.LuserRelay, "@")
}

// srs validates [srs] and fills its defaults.
func (d *decoder) srs(c *Config) {
	s := &c.SRS
	if !d.defined["srs.enabled"] {
		s.Enabled = c.CanForward()
	}
	if s.Domain == "" {
		s.Domain = c.Hostname
	} else if n, err := NormalizeDomain(s.Domain); err != nil || strings.HasPrefix(n, "[") {
		d.errorf("srs.domain", "srs.domain %q: want a domain name", s.Domain)
	} else {
		s.Domain = n
	}
	if !d.defined["srs.max_age"] {
		s.MaxAge = DefaultSRSMaxAge
	}
	day := 24 * time.Hour
	if s.MaxAge%day != 0 || s.MaxAge < day || s.MaxAge >= srsStampDays*day {
		d.errorf("srs.max_age", "srs.max_age must be whole days from \"24h\" to \"%dh\" (the timestamp counts days modulo %d), not %s",
			(srsStampDays-1)*24, srsStampDays, s.MaxAge)
	}
	s.ExcludeDomains = d.excludeDomains(s.ExcludeDomains)
	for i, r := range c.RelayDomains {
		if r == s.Domain {
			d.errorf(indexPath("relay_domains", i), "relay_domains: %s is the srs.domain; bounces to SRS addresses are taken here, so it cannot be relayed", r)
		}
	}
}

// excludeDomains normalises [srs] exclude_domains, keeping the leading
// "." of an entry for subdomains.
func (d *decoder) excludeDomains(in []string) []string {
	var out []string
	for i, e := range in {
		sub := strings.HasPrefix(e, ".")
		n, err := NormalizeDomain(strings.TrimPrefix(e, "."))
		if err != nil {
			d.errorf(indexPath("srs.exclude_domains", i), "srs.exclude_domains: %q: %v", e, err)
			continue
		}
		if sub {
			n = "." + n
		}
		out = append(out, n)
	}
	return out
}
