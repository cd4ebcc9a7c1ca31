package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"postern/internal/config"
	"postern/internal/maps"
	"postern/internal/policy"
	"postern/internal/users"
)

// buildRelay makes the relay policy from the configuration and the maps
// (nil when there is no maps_dir); serve and explain share it so that
// explain tells what serve does.
func buildRelay(cfg *config.Config, m *maps.Set, u policy.Users, own []netip.Addr) *policy.Relay {
	local := []policy.Domains{policy.NewDomainList("local_domains", false, cfg.LocalDomains)}
	relay := []policy.Domains{policy.NewDomainList("relay_domains", true, cfg.RelayDomains)}
	if m != nil {
		local = append(local, mapDomains{m, func(x *maps.Maps) *maps.DomainList { return x.LocalHostNames }})
		relay = append(relay, mapDomains{m, func(x *maps.Maps) *maps.DomainList { return x.RelayDomains }})
	}
	return &policy.Relay{
		Hostname:   cfg.Hostname,
		Local:      local,
		Relay:      relay,
		Trusted:    cfg.TrustedNetworks,
		OwnAddrs:   own,
		Users:      u,
		Postmaster: cfg.Postmaster,

		Maps:             mapsFunc(m),
		AllowSenderRelay: cfg.AllowSenderRelay,
		LuserRelay:       cfg.Delivery.LuserRelay,
	}
}

// mapsFunc gives the maps in force, or nil without maps_dir.
func mapsFunc(m *maps.Set) func() *maps.Maps {
	if m == nil {
		return nil
	}
	return m.Maps
}

// mapDomains is a domain list from maps_dir, read from the maps in force
// at each lookup so that a reload takes effect at once.
type mapDomains struct {
	set  *maps.Set
	list func(*maps.Maps) *maps.DomainList
}

func (d mapDomains) Match(domain string) (string, bool) {
	m, ok := d.list(d.set.Maps()).Contains(domain)
	if !ok {
		return "", false
	}
	return m.Rule(), true
}

// openMaps loads maps_dir, or returns nil when none is configured.
func openMaps(cfg *config.Config, log *slog.Logger) (*maps.Set, error) {
	if cfg.MapsDir == "" {
		return nil, nil
	}
	return maps.Open(cfg.MapsDir, log)
}

// configuredAddrs lists the addresses the configured listeners answer on,
// without binding them.
func configuredAddrs(cfg *config.Config) []netip.Addr {
	var out []netip.Addr
	for _, l := range cfg.Listeners {
		host, _, err := net.SplitHostPort(l.Address)
		if err != nil {
			continue
		}
		a, err := netip.ParseAddr(host)
		if host == "" || err == nil && a.IsUnspecified() {
			out = append(out, interfaceAddrs()...)
			continue
		}
		if err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

func interfaceAddrs() []netip.Addr {
	var out []netip.Addr
	ifaddrs, _ := net.InterfaceAddrs()
	for _, ia := range ifaddrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}

// checkRouting looks at the routing settings against the maps: a
// luser_relay in a local domain must reach someone.
func checkRouting(cfg *config.Config) checkResult {
	var r checkResult
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
	if s, err := users.Open(cfg.UsersFile()); err == nil && s.Exists(addr) {
		return r
	}
	r.warnings = append(r.warnings, fmt.Sprintf("%s: warning: delivery.luser_relay %s is neither a user nor an alias: mail for unknown users would go to a mailbox nobody logs in to", cfgName(cfg), lr))
	return r
}

func cfgName(cfg *config.Config) string {
	if cfg.File == "" {
		return config.EmbeddedName
	}
	return cfg.File
}
