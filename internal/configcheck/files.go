package configcheck

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"postern/internal/config"
	"postern/internal/layout"
	"postern/internal/maps"
	"postern/internal/privs"
	"postern/internal/sharedmaps"
	"postern/internal/tlsutil"
	"postern/internal/users"
)

// checkPerms refuses group- or world-writable configuration, maps, data
// and key files, as serve does.
func checkPerms(cfg *config.Config) Result {
	return Result{Problems: ErrorLines(privs.CheckPerms(layout.PermPaths(cfg)...))}
}

// checkUsers parses the users file and looks at its mode (with
// [postgres_users] the file is not used: DirectoryUsers).
func checkUsers(cfg *config.Config) Result {
	if cfg.PostgresUsers.URL != "" {
		return Result{}
	}
	var r Result
	path := cfg.UsersFile()
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r
	}
	if err != nil {
		return Result{Problems: []string{err.Error()}}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: readable by group or others (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path))
	}
	s, err := users.Open(path)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return r
	}
	return nonLocalUsers(cfg, s, path, r)
}

// DirectoryUsers reads the users table of [postgres_users] as the server
// does, the password read as root: a table that cannot be read, or has a
// bad row, is a problem.
func DirectoryUsers(cfg *config.Config) Result {
	if cfg.PostgresUsers.URL == "" {
		return Result{}
	}
	s, err := sharedmaps.OpenUsers(cfg, users.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return Result{Problems: []string{err.Error()}}
	}
	defer s.Close()
	if err, _ := s.LoadError(); err != nil {
		return Result{Problems: []string{err.Error()}}
	}
	return nonLocalUsers(cfg, s, s.Where(), Result{})
}

// nonLocalUsers warns of the users outside the local domains, who can
// log in but have no mailbox here.
func nonLocalUsers(cfg *config.Config, s *users.Store, path string, r Result) Result {
	var local *maps.DomainList
	if cfg.MapsDir != "" {
		if m, err := maps.Load(cfg.MapsDir); m != nil && err == nil {
			local = m.LocalHostNames
		}
	}
	for _, u := range s.List() {
		dom := u[strings.LastIndexByte(u, '@')+1:]
		if cfg.IsLocalDomain(dom) {
			continue
		}
		if _, ok := local.Contains(dom); ok {
			continue
		}
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: warning: %s is not in a local domain: it can log in but has no mailbox here", path, u))
	}
	return r
}

// checkTLS loads the configured certificate and key without generating
// anything, and looks at names, expiry and the key's mode.
func checkTLS(cfg *config.Config) Result {
	var r Result
	if _, err := tlsutil.LoadClientCAs(cfg.TLS.ClientCAFile); err != nil {
		r.Problems = append(r.Problems, err.Error()+": the server would not start")
	}
	if cfg.TLS.SelfSigned() {
		return r
	}
	tc, err := tlsutil.Load(cfg.TLS.Cert, cfg.TLS.Key, cfg.DataDir, cfg.Hostname)
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", cfg.TLS.Cert, err))
		return r
	}
	if fi, err := os.Stat(cfg.TLS.Key); err == nil && fi.Mode().Perm()&0o077 != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: private key readable by group or others (mode %04o): run chmod 600 %s", cfg.TLS.Key, fi.Mode().Perm(), cfg.TLS.Key))
	}
	leaf, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0])
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", cfg.TLS.Cert, err))
		return r
	}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		r.Problems = append(r.Problems, fmt.Sprintf("%s: certificate expired on %s", cfg.TLS.Cert, leaf.NotAfter.Format(time.DateOnly)))
	case now.Before(leaf.NotBefore):
		r.Problems = append(r.Problems, fmt.Sprintf("%s: certificate not valid before %s", cfg.TLS.Cert, leaf.NotBefore.Format(time.DateOnly)))
	case leaf.NotAfter.Sub(now) < 14*24*time.Hour:
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: warning: certificate expires on %s", cfg.TLS.Cert, leaf.NotAfter.Format(time.DateOnly)))
	}
	if err := leaf.VerifyHostname(cfg.Hostname); err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: warning: certificate does not name hostname %s", cfg.TLS.Cert, cfg.Hostname))
	}
	return r
}
