package configcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"postern/internal/config"
	"postern/internal/maps"
	"postern/internal/sharedmaps"
	"postern/internal/users"
)

// Maps parses every map in maps_dir (also for newaliases).
func Maps(cfg *config.Config) Result {
	var r Result
	if cfg.MapsDir == "" {
		return r
	}
	if fi, err := os.Stat(cfg.MapsDir); err != nil || !fi.IsDir() {
		if errors.Is(err, fs.ErrNotExist) {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: warning: maps_dir does not exist; no maps are used", cfg.MapsDir))
		} else {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: maps_dir is not a readable directory", cfg.MapsDir))
		}
		return r
	}
	m, err := maps.Load(cfg.MapsDir)
	r.Problems = ErrorLines(err)
	for _, w := range m.Warnings() {
		r.Warnings = append(r.Warnings, w.Source.String()+": warning: "+w.Msg)
	}
	return r
}

// DirectoryMaps reads the shared maps ([ldap_maps], [postgres_maps]),
// with the passwords read as root, as the server does before it drops
// privileges: one that cannot be read is a problem, since the server
// would defer all mail with 4xx while it stays so.
func DirectoryMaps(cfg *config.Config) Result {
	var r Result
	ext, err := sharedmaps.Sources(cfg)
	if err != nil || len(ext) == 0 {
		if err != nil {
			r.Problems = append(r.Problems, err.Error())
		}
		return r
	}
	m, err := maps.LoadExternal("", ext...)
	for _, l := range ErrorLines(err) {
		r.Problems = append(r.Problems, l+" (the server would answer 4xx to all mail while this lasts)")
	}
	for _, w := range m.Warnings() {
		r.Warnings = append(r.Warnings, w.Source.String()+": warning: "+w.Msg)
	}
	return r
}

// checkRouting looks at the routing settings against the maps: a
// luser_relay in a local domain must reach someone.
func checkRouting(cfg *config.Config) Result {
	var r Result
	lr := cfg.Delivery.LuserRelay
	if lr == "" {
		return r
	}
	var m *maps.Maps
	if cfg.MapsDir != "" {
		m, _ = maps.Load(cfg.MapsDir)
	}
	addr := lr
	if !strings.Contains(addr, "@") {
		addr += "@" + cfg.Hostname
	}
	at := strings.LastIndexByte(addr, '@')
	local, domain := strings.ToLower(addr[:at]), addr[at+1:]
	_, inHostNames := m.LocalHostNames.Contains(domain)
	if !cfg.IsLocalDomain(domain) && domain != cfg.Hostname && !inHostNames {
		return r
	}
	if _, ok := m.Aliases.Lookup(local); ok {
		return r
	}
	s, err := sharedmaps.OpenUsers(cfg, users.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return r // reported by the users' own check
	}
	defer s.Close()
	if err, _ := s.LoadError(); err != nil || s.Exists(addr) {
		return r
	}
	r.Warnings = append(r.Warnings, fmt.Sprintf("%s: warning: delivery.luser_relay %s is neither a user nor an alias: mail for unknown users would go to a mailbox nobody logs in to", configName(cfg), lr))
	return r
}
