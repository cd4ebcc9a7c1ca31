// Package srskeys is SRS as the operator and the server's wiring handle
// it: the rewriter of the [srs] settings with its keys file, the sender
// domains that keep their sender, and the work of `postern srs rotate`,
// `status`, `forward` and `reverse`. The scheme itself is internal/srs's.
package srskeys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"

	"postern/internal/config"
	"postern/internal/layout"
	"postern/internal/policy"
	"postern/internal/privs"
	"postern/internal/srs"
)

// Rewriter builds the rewriter of cfg's [srs], nil when SRS is off.
// create makes the keys file when it is missing (the server on its first
// start, as the service user); the off-line commands only read it.
func Rewriter(cfg *config.Config, create bool, log *slog.Logger) (*srs.Rewriter, error) {
	if !cfg.SRS.Enabled {
		return nil, nil
	}
	keys, err := srs.OpenKeyring(cfg.SRSKeysFile(), create, log)
	if err != nil {
		return nil, err
	}
	return &srs.Rewriter{Domain: cfg.SRS.Domain, Keys: keys, MaxAge: cfg.SRS.MaxAge}, nil
}

// Keep reports which sender domains are never rewritten: the SRS domain,
// our local domains (isLocal) and [srs] exclude_domains ("x.example" is
// that domain, ".x.example" its subdomains, as postsrsd reads them).
func Keep(cfg *config.Config, isLocal func(domain string) bool) func(domain string) bool {
	exclude := cfg.SRS.ExcludeDomains
	return func(domain string) bool {
		if domain == cfg.SRS.Domain || isLocal(domain) {
			return true
		}
		for _, e := range exclude {
			if e == domain || strings.HasPrefix(e, ".") && strings.HasSuffix(domain, e) {
				return true
			}
		}
		return false
	}
}

// Explain gives postern explain the SRS check of RCPT (set on relay)
// and its line about the sender of forwarded mail. Keys that cannot be
// read (the server has not made them yet) leave a rewriter without
// keys, whose answers say so; the problem goes to warn.
func Explain(cfg *config.Config, relay *policy.Relay, warn io.Writer) func(from string) string {
	rw, err := Rewriter(cfg, false, nil)
	if err != nil {
		fmt.Fprintf(warn, "srs: %v (the server makes the keys on its first start)\n", err)
		rw = &srs.Rewriter{Domain: cfg.SRS.Domain, MaxAge: cfg.SRS.MaxAge}
	}
	if rw != nil {
		relay.SRS = rw
	}
	return ExplainSender(cfg, rw, Keep(cfg, relay.IsLocal))
}

// ExplainSender is postern explain's line about the envelope sender mail
// forwarded elsewhere leaves with. rw may have no keys (the server has
// not made them yet): the line then says so.
func ExplainSender(cfg *config.Config, rw *srs.Rewriter, keep func(string) bool) func(from string) string {
	return func(from string) string {
		at := strings.LastIndexByte(from, '@')
		switch {
		case rw == nil:
			return fmt.Sprintf("<%s> unchanged ([srs] is off)", from)
		case from == "":
			return "<> (the null sender is never rewritten)"
		case at >= 0 && keep(strings.ToLower(from[at+1:])):
			return fmt.Sprintf("<%s> unchanged (a domain of ours or in [srs] exclude_domains)", from)
		}
		out, err := rw.Forward(from)
		if err != nil {
			return fmt.Sprintf("<%s> unchanged: SRS cannot rewrite it (%v)", from, err)
		}
		return fmt.Sprintf("<%s> (SRS: the next hop's SPF check looks at %s)", out, cfg.SRS.Domain)
	}
}

// Run does `postern srs SUB [ADDRESS]` and prints its result to out.
func Run(cfg *config.Config, sub, addr string, out io.Writer) error {
	switch sub {
	case "rotate":
		return rotate(cfg, out)
	case "status":
		return status(cfg, out)
	}
	rw, err := Rewriter(cfg, false, nil)
	if err == nil && rw == nil {
		err = errors.New("[srs] is off")
	}
	if err != nil {
		return err
	}
	res, err := rw.Forward(addr)
	if sub == "reverse" {
		res, err = rw.Reverse(addr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(out, res)
	return nil
}

// rotate adds a signing key, giving the file to the server's user (the
// configured one, else whoever owns the data dir).
func rotate(cfg *config.Config, out io.Writer) error {
	owner, err := layout.MakeDataDir(cfg)
	if err == nil && !owner.IsSet() {
		owner, err = privs.OwnerOf(cfg.DataDir)
	}
	if err != nil {
		return err
	}
	path := cfg.SRSKeysFile()
	n, err := srs.Rotate(path, owner)
	if err != nil {
		return err
	}
	owned := ""
	if owner.IsSet() {
		owned = ", owned by " + owner.Name
	}
	fmt.Fprintf(out, "Wrote a new signing key to %s (mode 0600%s): %d key(s), the new one signs,\n", path, owned, n)
	fmt.Fprintf(out, "the older ones still check the addresses made with them (remove them by hand\nonce max_age = %s has passed). A running server takes it within seconds.\n", cfg.SRS.MaxAge)
	return nil
}

// status prints the [srs] settings and what the keys file holds.
func status(cfg *config.Config, out io.Writer) error {
	s := cfg.SRS
	fmt.Fprintf(out, "enabled:  %v\ndomain:   %s\nmax_age:  %s (%d days)\nexclude:  %v (besides our own domains)\n",
		s.Enabled, s.Domain, s.MaxAge, int(s.MaxAge.Hours()/24), s.ExcludeDomains)
	path := cfg.SRSKeysFile()
	keys, err := srs.ReadKeys(path)
	switch {
	case err == nil:
		fmt.Fprintf(out, "keys:     %s: %d (the first signs)\n", path, len(keys))
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(out, "keys:     %s: none yet (the server makes the first on its start)\n", path)
	default:
		return err
	}
	return nil
}
