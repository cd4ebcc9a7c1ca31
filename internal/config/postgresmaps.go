package config

import (
	"net/url"
	"slices"
	"strings"
	"time"
)

// PostgresMaps is the [postgres_maps] table: sendmail's maps read from a
// PostgreSQL table (the layout is in docs/maps.md) instead of maps_dir.
type PostgresMaps struct {
	// URL is a libpq URL, postgres://USER@HOST:PORT/DB?sslmode=verify-full;
	// "" reads no map from a database.
	URL string `toml:"url"`
	// PasswordFile holds the password on its first line (mode 0600,
	// read as root at start); else the URL's or none.
	PasswordFile string `toml:"password_file"`
	// Table is the table's name (default postern_maps).
	Table string `toml:"table"`
	// Maps names the maps read from the table.
	Maps []string `toml:"maps"`
	// Refresh, Stale and Timeout are as in [ldap_maps].
	Refresh time.Duration `toml:"refresh"`
	Stale   time.Duration `toml:"stale"`
	Timeout time.Duration `toml:"timeout"`
}

func defaultPostgresMaps() PostgresMaps {
	return PostgresMaps{Table: "postern_maps", Refresh: 5 * time.Minute, Stale: time.Hour, Timeout: 10 * time.Second}
}

// postgresURL checks a database URL and its password file: a libpq URL,
// the password in one place, and TLS with a verified certificate off
// loopback so that the password and what (the maps, the counters) do not
// cross the network unchecked. It reports whether the URL parsed.
func (d *decoder) postgresURL(urlKey, pwKey, raw, pwFile, what string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		d.errorf(urlKey, "%s: want postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full", urlKey)
		return false
	}
	if _, set := u.User.Password(); set && pwFile != "" {
		d.errorf(pwKey, "%s: give the password in %s or in the URL, not both", urlKey, pwKey)
	}
	mode := u.Query().Get("sslmode")
	if mode != "verify-full" && mode != "verify-ca" && !loopbackHost(u.Hostname()) {
		d.errorf(urlKey, "%s is not on loopback: add sslmode=verify-full, so that the password and %s do not cross the network unchecked", urlKey, what)
	}
	return true
}

// postgresMaps validates [postgres_maps].
func (d *decoder) postgresMaps(c *Config) {
	p := &c.PostgresMaps
	if p.URL == "" {
		if len(p.Maps) > 0 {
			d.errorf("postgres_maps.maps", "postgres_maps.maps is set but postgres_maps.url is not: name the database")
		}
		return
	}
	if !d.postgresURL("postgres_maps.url", "postgres_maps.password_file", p.URL, p.PasswordFile, "the maps") {
		return
	}
	if len(p.Maps) == 0 {
		d.errorf("postgres_maps.maps", "postgres_maps.maps is empty: name the maps to read from the table (%s)", strings.Join(LDAPMapFiles, ", "))
	}
	for i, m := range p.Maps {
		switch {
		case !slices.Contains(LDAPMapFiles, m):
			d.errorf(indexPath("postgres_maps.maps", i), "postgres_maps.maps: %q cannot come from a table (want %s)", m, strings.Join(LDAPMapFiles, ", "))
		case slices.Contains(c.LDAPMaps.Maps, m):
			d.errorf(indexPath("postgres_maps.maps", i), "postgres_maps.maps: %q is in ldap_maps.maps too; a map has one source", m)
		}
	}
	d.sharedTimes("postgres_maps", p.Refresh, p.Stale, p.Timeout)
}
