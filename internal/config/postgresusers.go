package config

import (
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
	d.postgresURL("postgres_users.url", "postgres_users.password_file", p.URL, p.PasswordFile, "the passwords")
	if p.Refresh < time.Second || p.Timeout < time.Second {
		d.errorf("postgres_users.refresh", "postgres_users.refresh and postgres_users.timeout must be at least 1s")
	}
	if p.Stale < p.Refresh {
		d.errorf("postgres_users.stale", "postgres_users.stale (%s) must be at least postgres_users.refresh (%s)", p.Stale, p.Refresh)
	}
}
