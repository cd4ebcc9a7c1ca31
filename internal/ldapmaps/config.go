package ldapmaps

import (
	"fmt"
	"os"
	"strings"

	"postern/internal/config"
	"postern/internal/maps"
)

// External builds, from [ldap_maps], the maps.External that the server
// and `postern check` read the directory's maps through, so that both
// see the same; nil when no directory is configured. Run as root before
// the server drops privileges: the password file may be root's alone.
func External(cfg *config.Config) (*maps.External, error) {
	l := cfg.LDAPMaps
	if l.URL == "" {
		return nil, nil
	}
	pw, err := readPassword(l.PasswordFile)
	if err != nil {
		return nil, err
	}
	src, err := New(Options{URL: l.URL, StartTLS: l.StartTLS, Base: l.Base, BindDN: l.BindDN, Password: pw,
		CAFile: l.CAFile, Cluster: l.Cluster, Host: cfg.Hostname, Timeout: l.Timeout})
	if err != nil {
		return nil, err
	}
	return &maps.External{Fetcher: src, Files: l.Maps, Refresh: l.Refresh, Stale: l.Stale, Timeout: l.Timeout}, nil
}

// readPassword reads the first line of the password file ("" for none),
// refusing a file that others may read.
func readPassword(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("ldap_maps.password_file: %w", err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return "", fmt.Errorf("ldap_maps.password_file %s is readable by every user: chmod 0640 %s", path, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("ldap_maps.password_file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("ldap_maps.password_file %s: the first line is empty", path)
	}
	return line, nil
}
