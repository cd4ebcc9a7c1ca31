package config

import (
	"net/url"
	"time"
)

// PostgresUsers is the [postgres_users] table: the AUTH users read from a
// PostgreSQL table (the layout is in docs/maps.md) instead of the users
// file, so that every node of a fleet has the same users and states.
type PostgresUsers struct {
	// URL is a libpq URL, postgres://USER@HOST:PORT/DB?sslmode=verify-full;
	// "" keeps the users in data_dir/users.
	URL string `toml:"url"`
	// PasswordFile holds the password on its first line (mode 0600,
	// read as root at start); else the URL's or none.
	PasswordFile string `toml:"password_file"`
	// Table is the table's name (default postern_users).
	Table string `toml:"table"`
	// Refresh, Stale and Timeout are as in [postgres_maps].
	Refresh time.Duration `toml:"refresh"`
	Stale   time.Duration `toml:"stale"`
	Timeout time.Duration `toml:"timeout"`
}

func defaultPostgresUsers() PostgresUsers {
	return PostgresUsers{Table: "postern_users", Refresh: time.Minute, Stale: time.Hour, Timeout: 10 * time.Second}
}

// postgresUsers validates [postgres_users].
func (d *decoder) postgresUsers(c *Config) {
	p := &c.PostgresUsers
	if p.URL == "" {
		return
	}
	d.postgresURL("postgres_users", p.URL, p.PasswordFile)
	if p.Refresh < time.Second || p.Timeout < time.Second {
		d.errorf("postgres_users.refresh", "postgres_users.refresh and postgres_users.timeout must be at least 1s")
	}
	if p.Stale < p.Refresh {
		d.errorf("postgres_users.stale", "postgres_users.stale (%s) must be at least postgres_users.refresh (%s)", p.Stale, p.Refresh)
	}
}

// postgresURL checks the url and password_file of a [postgres_*] table:
// a libpq URL, one password, and verify-full (or verify-ca) off loopback.
func (d *decoder) postgresURL(table, raw, passwordFile string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		d.errorf(table+".url", "%s.url: want postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full", table)
		return false
	}
	if _, set := u.User.Password(); set && passwordFile != "" {
		d.errorf(table+".password_file", "%s: give the password in password_file or in the URL, not both", table)
	}
	mode := u.Query().Get("sslmode")
	if mode != "verify-full" && mode != "verify-ca" && !loopbackHost(u.Hostname()) {
		d.errorf(table+".url", "%s.url is not on loopback: add sslmode=verify-full, so that the passwords and the data do not cross the network unchecked", table)
	}
	return true
}
