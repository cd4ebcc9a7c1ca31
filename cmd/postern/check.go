package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/config"
	"postern/internal/maps"
	"postern/internal/privs"
	"postern/internal/tlsutil"
	"postern/internal/users"
)

// runCheck is `postern check [-config FILE]`: validate the configuration
// and everything it names without starting anything.
func runCheck(args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	configPath := fs.String("config", "", configFlagHelp)
	dnsRecords := fs.Bool("dns-records", false, "also compare what DNS holds with the records each local domain should publish (see postern dns-records); queries DNS")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern check [-config FILE] [-dns-records]\n\nValidates the configuration, the maps, the users file and the TLS files,\nreports every problem at once with its file and line, and warns about\ndangerous settings. Exits 1 when there is a problem.")
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		fs.Usage()
		return 2
	}
	rc := check(os.Stdout, os.Stderr, *configPath)
	if rc == 0 && *dnsRecords {
		rc = checkDNSRecords(os.Stdout, os.Stderr, *configPath)
	}
	return rc
}

// check loads the configuration at path and runs every checker; problems
// and warnings go to errw, the verdict to w. It returns the exit status.
func check(w, errw io.Writer, path string) int {
	cfg, warnings, err := loadConfig(path)
	for _, wn := range warnings {
		fmt.Fprintln(errw, wn.String())
	}
	if err != nil {
		var ce *config.Error
		n := 1
		if errors.As(err, &ce) {
			n = len(ce.Problems)
		}
		fmt.Fprintln(errw, err)
		fmt.Fprintf(errw, "postern check: %d problem(s) in the configuration\n", n)
		return 1
	}
	// Where the server would work from inside its data dir, so does
	// the check (the working directory is restored afterwards).
	if owner, err := serverOwner(cfg); err == nil {
		if wd, err := os.Getwd(); err == nil {
			defer os.Chdir(wd)
		}
		if c, err := enterDataDir(cfg, owner, slog.New(slog.DiscardHandler)); err == nil {
			cfg = c
		}
	}
	var problems []string
	for _, c := range checkers() {
		r := c(cfg)
		problems = append(problems, r.problems...)
		for _, wn := range r.warnings {
			fmt.Fprintln(errw, wn)
		}
	}
	for _, p := range problems {
		fmt.Fprintln(errw, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(errw, "postern check: %d problem(s)\n", len(problems))
		return 1
	}
	name := cfg.File
	if name == "" {
		name = config.EmbeddedName
	}
	fmt.Fprintf(w, "config OK: %s\n", name)
	return 0
}

// checkResult holds lines of the form "file:line: message" (or "path:
// message" when there is no line).
type checkResult struct {
	problems, warnings []string
}

// checker validates something the configuration names.
type checker func(cfg *config.Config) checkResult

// checkers lists what `postern check` looks at after the configuration
// itself loaded. Code that reads more files named by the configuration
// adds its checker here.
func checkers() []checker {
	// Maps, users and the data dir are read by the server after it
	// dropped privileges: check them as its user. The certificate is
	// read while still root.
	return []checker{checkPerms, asServer(checkMaps), ifDataDir(asServer(checkUsers)), ifDataDir(asServer(checkDataDir)),
		checkTLS, checkRouting, checkLocal, checkSandbox}
}

// ifDataDir runs c only when the data dir exists (serve makes it, for
// its user, when it does not).
func ifDataDir(c checker) checker {
	return func(cfg *config.Config) checkResult {
		if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
			return checkResult{}
		}
		return c(cfg)
	}
}

// checkPerms refuses group- or world-writable configuration, maps, data
// and key files, as serve does.
func checkPerms(cfg *config.Config) checkResult {
	return checkResult{problems: errorLines(privs.CheckPerms(permPaths(cfg)...))}
}

// permPaths lists the files and directories that must not be writable by
// group or others.
func permPaths(cfg *config.Config) []string {
	var paths []string
	if cfg.File != "" {
		paths = append(paths, cfg.File)
	}
	if cfg.MapsDir != "" {
		paths = append(paths, cfg.MapsDir)
		for _, f := range maps.FileNames() {
			paths = append(paths, filepath.Join(cfg.MapsDir, f))
		}
	}
	paths = append(paths, cfg.DataDir, cfg.UsersFile())
	if !cfg.TLS.SelfSigned() {
		paths = append(paths, cfg.TLS.Cert, cfg.TLS.Key)
	}
	return paths
}

// checkMaps parses every map in maps_dir.
func checkMaps(cfg *config.Config) checkResult {
	var r checkResult
	if cfg.MapsDir == "" {
		return r
	}
	if fi, err := os.Stat(cfg.MapsDir); err != nil || !fi.IsDir() {
		if errors.Is(err, fs.ErrNotExist) {
			r.warnings = append(r.warnings, fmt.Sprintf("%s: warning: maps_dir does not exist; no maps are used", cfg.MapsDir))
		} else {
			r.problems = append(r.problems, fmt.Sprintf("%s: maps_dir is not a readable directory", cfg.MapsDir))
		}
		return r
	}
	m, err := maps.Load(cfg.MapsDir)
	r.problems = errorLines(err)
	for _, w := range m.Warnings() {
		r.warnings = append(r.warnings, w.Source.String()+": warning: "+w.Msg)
	}
	return r
}

// checkUsers parses the users file and looks at its mode.
func checkUsers(cfg *config.Config) checkResult {
	var r checkResult
	path := cfg.UsersFile()
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r
	}
	if err != nil {
		return checkResult{problems: []string{err.Error()}}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		r.problems = append(r.problems, fmt.Sprintf("%s: readable by group or others (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path))
	}
	s, err := users.Open(path)
	if err != nil {
		r.problems = append(r.problems, err.Error())
		return r
	}
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
		r.warnings = append(r.warnings, fmt.Sprintf("%s: warning: %s is not in a local domain: it can log in but has no mailbox here", path, u))
	}
	return r
}

// checkTLS loads the configured certificate and key without generating
// anything, and looks at names, expiry and the key's mode.
func checkTLS(cfg *config.Config) checkResult {
	var r checkResult
	if cfg.TLS.SelfSigned() {
		return r
	}
	tc, err := tlsutil.Load(cfg.TLS.Cert, cfg.TLS.Key, cfg.DataDir, cfg.Hostname)
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s: %v", cfg.TLS.Cert, err))
		return r
	}
	if fi, err := os.Stat(cfg.TLS.Key); err == nil && fi.Mode().Perm()&0o077 != 0 {
		r.problems = append(r.problems, fmt.Sprintf("%s: private key readable by group or others (mode %04o): run chmod 600 %s", cfg.TLS.Key, fi.Mode().Perm(), cfg.TLS.Key))
	}
	leaf, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0])
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s: %v", cfg.TLS.Cert, err))
		return r
	}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		r.problems = append(r.problems, fmt.Sprintf("%s: certificate expired on %s", cfg.TLS.Cert, leaf.NotAfter.Format(time.DateOnly)))
	case now.Before(leaf.NotBefore):
		r.problems = append(r.problems, fmt.Sprintf("%s: certificate not valid before %s", cfg.TLS.Cert, leaf.NotBefore.Format(time.DateOnly)))
	case leaf.NotAfter.Sub(now) < 14*24*time.Hour:
		r.warnings = append(r.warnings, fmt.Sprintf("%s: warning: certificate expires on %s", cfg.TLS.Cert, leaf.NotAfter.Format(time.DateOnly)))
	}
	if err := leaf.VerifyHostname(cfg.Hostname); err != nil {
		r.warnings = append(r.warnings, fmt.Sprintf("%s: warning: certificate does not name hostname %s", cfg.TLS.Cert, cfg.Hostname))
	}
	return r
}

// errorLines splits a (joined) error into one line per problem.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
