package config

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// LDAPMaps is the [ldap_maps] table: sendmail's maps read from an LDAP
// directory in sendmail's schema instead of maps_dir, so that a fleet of
// gateways shares one set.
type LDAPMaps struct {
	// URL is ldap://HOST[:PORT] or ldaps://HOST[:PORT]; "" reads every
	// map from maps_dir.
	URL string `toml:"url"`
	// StartTLS upgrades ldap:// before binding. Required for a
	// directory that is not on loopback.
	StartTLS bool `toml:"start_tls"`
	// CAFile verifies the directory's certificate (default: system roots).
	CAFile string `toml:"ca_file"`
	// Base is the search base, e.g. "ou=mail,dc=example,dc=org".
	Base string `toml:"base"`
	// BindDN and PasswordFile make a simple bind ("": anonymous). The
	// file holds the password on its first line, mode 0600 or 0640.
	BindDN       string `toml:"bind_dn"`
	PasswordFile string `toml:"password_file"`
	// Cluster is sendmail's sendmailMTACluster; entries of this cluster
	// or with sendmailMTAHost = hostname are read, as sendmail does.
	Cluster string `toml:"cluster"`
	// Maps names the maps read from the directory: access,
	// virtusertable, genericstable, mailertable, aliases,
	// local-host-names, relay-domains.
	Maps []string `toml:"maps"`
	// Refresh is how often each map is read again (default 5m).
	Refresh time.Duration `toml:"refresh"`
	// Stale is how long the last copy serves while the directory does
	// not answer (default 1h); after it, mail that needs the map waits
	// with 4xx.
	Stale time.Duration `toml:"stale"`
	// Timeout bounds connecting and each search (default 10s).
	Timeout time.Duration `toml:"timeout"`
}

// LDAPMapFiles are the maps that [ldap_maps] can serve: those of
// sendmail's schema.
var LDAPMapFiles = []string{"access", "aliases", "genericstable", "local-host-names", "mailertable", "relay-domains", "virtusertable"}

func defaultLDAPMaps() LDAPMaps {
	return LDAPMaps{Refresh: 5 * time.Minute, Stale: time.Hour, Timeout: 10 * time.Second}
}

// ldapMaps validates [ldap_maps].
func (d *decoder) ldapMaps(c *Config) {
	l := &c.LDAPMaps
	if l.URL == "" {
		if len(l.Maps) > 0 {
			d.errorf("ldap_maps.maps", "ldap_maps.maps is set but ldap_maps.url is not: name the directory")
		}
		return
	}
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		d.errorf("ldap_maps.url", "ldap_maps.url %q: want ldap://HOST[:PORT] or ldaps://HOST[:PORT] (the base goes in ldap_maps.base)", l.URL)
		return
	}
	if u.Scheme == "ldaps" && l.StartTLS {
		d.errorf("ldap_maps.start_tls", "ldap_maps.start_tls is for ldap:// URLs; ldaps:// is TLS already")
	}
	if u.Scheme == "ldap" && !l.StartTLS && !loopbackHost(u.Hostname()) {
		d.errorf("ldap_maps.url", "ldap_maps.url %q is not on loopback: set start_tls = true or use ldaps://, so that the bind password and the maps do not cross the network in clear", l.URL)
	}
	if l.Base == "" {
		d.errorf("ldap_maps.base", "ldap_maps.base is required (the DN under which the sendmailMTA entries are)")
	}
	if l.BindDN != "" && l.PasswordFile == "" {
		d.errorf("ldap_maps.password_file", "ldap_maps.bind_dn needs ldap_maps.password_file")
	}
	if len(l.Maps) == 0 {
		d.errorf("ldap_maps.maps", "ldap_maps.maps is empty: name the maps to read from the directory (%s)", strings.Join(LDAPMapFiles, ", "))
	}
	for i, m := range l.Maps {
		if !slices.Contains(LDAPMapFiles, m) {
			d.errorf(indexPath("ldap_maps.maps", i), "ldap_maps.maps: %q is not in sendmail's LDAP schema (want %s)", m, strings.Join(LDAPMapFiles, ", "))
		}
	}
	d.sharedTimes("ldap_maps", l.Refresh, l.Stale, l.Timeout)
}

// sharedTimes checks the refresh, stale and timeout of a shared source
// (table is its config table's name).
func (d *decoder) sharedTimes(table string, refresh, stale, timeout time.Duration) {
	if refresh < time.Second || timeout < time.Second {
		d.errorf(table+".refresh", "%s.refresh and %s.timeout must be at least 1s", table, table)
	}
	if stale < refresh {
		d.errorf(table+".stale", "%s.stale (%s) must be at least %s.refresh (%s)", table, stale, table, refresh)
	}
}

// loopbackHost reports whether host is "localhost" or a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}
