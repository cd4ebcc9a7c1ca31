// Package sharedmaps builds, from [ldap_maps] and [postgres_maps], the
// sources of the maps a fleet of gateways shares, for the server and for
// `postern check` alike, so that both read the same; and from
// [postgres_users] the table of the users they share.
package sharedmaps

import (
	"fmt"
	"os"
	"strings"

	"postern/internal/config"
	"postern/internal/ldapmaps"
	"postern/internal/maps"
	"postern/internal/pgmaps"
	"postern/internal/pgusers"
	"postern/internal/users"
)

// Sources returns the configured directory and database sources (none:
// nil). Run as root before the server drops privileges: the password
// files may be root's alone.
func Sources(cfg *config.Config) ([]*maps.External, error) {
	var out []*maps.External
	if l := cfg.LDAPMaps; l.URL != "" {
		pw, err := ReadPassword("ldap_maps.password_file", l.PasswordFile)
		if err != nil {
			return nil, err
		}
		src, err := ldapmaps.New(ldapmaps.Options{URL: l.URL, StartTLS: l.StartTLS, Base: l.Base, BindDN: l.BindDN, Password: pw,
			CAFile: l.CAFile, Cluster: l.Cluster, Host: cfg.Hostname, Timeout: l.Timeout})
		if err != nil {
			return nil, err
		}
		out = append(out, &maps.External{Fetcher: src, Files: l.Maps, Refresh: l.Refresh, Stale: l.Stale, Timeout: l.Timeout})
	}
	if p := cfg.PostgresMaps; p.URL != "" {
		pw, err := ReadPassword("postgres_maps.password_file", p.PasswordFile)
		if err != nil {
			return nil, err
		}
		src, err := pgmaps.New(pgmaps.Options{URL: p.URL, Password: pw, Table: p.Table, Timeout: p.Timeout})
		if err != nil {
			return nil, err
		}
		out = append(out, &maps.External{Fetcher: src, Files: p.Maps, Refresh: p.Refresh, Stale: p.Stale, Timeout: p.Timeout})
	}
	return out, nil
}

// Users returns the [postgres_users] table for a users.Store, or nil
// when the users are in the users file. Run as root before the server
// drops privileges, as Sources.
func Users(cfg *config.Config) (*users.RemoteOptions, error) {
	p := cfg.PostgresUsers
	if p.URL == "" {
		return nil, nil
	}
	pw, err := ReadPassword("postgres_users.password_file", p.PasswordFile)
	if err != nil {
		return nil, err
	}
	src, err := pgusers.New(pgmaps.Options{URL: p.URL, Password: pw, Table: p.Table, Timeout: p.Timeout})
	if err != nil {
		return nil, err
	}
	return &users.RemoteOptions{Remote: src, Refresh: p.Refresh, Stale: p.Stale, Timeout: p.Timeout}, nil
}

// OpenUsers opens the users the configuration names: the table of
// [postgres_users] (read once; LoadError says why it could not be), else
// the users file. For root's commands (postern check, explain).
func OpenUsers(cfg *config.Config, opt users.Options) (*users.Store, error) {
	var err error
	if opt.Remote, err = Users(cfg); err != nil {
		return nil, err
	}
	return users.OpenOptions(cfg.UsersFile(), opt)
}

// ReadPassword reads the first line of a password file ("" for none),
// refusing a file that others may read.
func ReadPassword(key, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return "", fmt.Errorf("%s %s is readable by every user: chmod 0640 %s", key, path, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s %s: the first line is empty", key, path)
	}
	return line, nil
}
