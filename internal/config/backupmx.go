package config

import (
	"slices"
	"strings"
	"time"
)

// BackupMX is one [[backup_mx]] table: a domain this host is a
// lower-priority MX for. Its recipients are taken only when they can be
// verified, from any client, and only to go on to the domain's more
// preferred MX hosts; it need not be in relay_domains (when it is, these
// rules apply).
type BackupMX struct {
	Domain string `toml:"domain"` // normalised
	// Verify is how a recipient is known: "callout" asks the primary
	// (RCPT TO with MAIL FROM:<>), "maps" wants a virtusertable entry for
	// the address itself. Default "callout".
	Verify string `toml:"verify"`
	// CalloutCache is how long the primary's acceptance of a recipient
	// is kept [1h]; CalloutNegativeCache its refusal [10m]. "0s" keeps
	// none.
	CalloutCache         Delay `toml:"callout_cache"`
	CalloutNegativeCache Delay `toml:"callout_negative_cache"`
}

// Verify values.
const (
	VerifyCallout = "callout"
	VerifyMaps    = "maps"
)

// Defaults and bounds of the callout cache.
const (
	DefaultCalloutCache         = time.Hour
	DefaultCalloutNegativeCache = 10 * time.Minute
	MaxCalloutCache             = 7 * 24 * time.Hour
	MaxCalloutNegativeCache     = 24 * time.Hour
)

// IsBackupMX reports whether domain (normalised) has a [[backup_mx]]
// table.
func (c *Config) IsBackupMX(domain string) bool {
	for _, b := range c.BackupMX {
		if b.Domain == domain {
			return true
		}
	}
	return false
}

// hasVirtusertable reports whether a virtusertable can be read: from
// maps_dir, or from a directory or database.
func (c *Config) hasVirtusertable() bool {
	return c.MapsDir != "" || slices.Contains(c.LDAPMaps.Maps, "virtusertable") || slices.Contains(c.PostgresMaps.Maps, "virtusertable")
}

// backupMX validates the [[backup_mx]] tables and fills their defaults.
func (d *decoder) backupMX(c *Config) {
	seen := map[string]bool{}
	for i := range c.BackupMX {
		p := indexPath("backup_mx", i)
		b := &c.BackupMX[i]
		n, err := NormalizeDomain(b.Domain)
		switch {
		case err != nil || strings.HasPrefix(n, "["):
			d.errorf(p+".domain", "backup_mx %d: domain %q: want a domain name", i+1, b.Domain)
		case seen[n]:
			d.errorf(p+".domain", "backup_mx %d: %s is listed twice", i+1, n)
		case c.IsLocalDomain(n) || n == c.Hostname:
			d.errorf(p+".domain", "backup_mx %d: %s is a local domain; a domain is either delivered here or backed up", i+1, n)
		}
		seen[n], b.Domain = true, n
		switch b.Verify {
		case "":
			b.Verify = VerifyCallout
		case VerifyCallout:
		case VerifyMaps:
			if !c.hasVirtusertable() {
				d.errorf(p+".verify", "backup_mx %d: verify = %q needs a virtusertable: set maps_dir, or list virtusertable in [ldap_maps] or [postgres_maps] maps", i+1, VerifyMaps)
			}
		default:
			d.errorf(p+".verify", "backup_mx %d: verify must be %q or %q, not %q", i+1, VerifyCallout, VerifyMaps, b.Verify)
		}
		if !d.defined[p+".callout_cache"] {
			b.CalloutCache = Delay(DefaultCalloutCache)
		}
		if !d.defined[p+".callout_negative_cache"] {
			b.CalloutNegativeCache = Delay(DefaultCalloutNegativeCache)
		}
		if b.CalloutCache.Duration() > MaxCalloutCache {
			d.errorf(p+".callout_cache", "backup_mx %d: callout_cache must be at most %s", i+1, MaxCalloutCache)
		}
		if b.CalloutNegativeCache.Duration() > MaxCalloutNegativeCache {
			d.errorf(p+".callout_negative_cache", "backup_mx %d: callout_negative_cache must be at most %s", i+1, MaxCalloutNegativeCache)
		}
	}
}
