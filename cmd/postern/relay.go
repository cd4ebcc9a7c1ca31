package main

import (
	"log/slog"
	"net/netip"

	"postern/internal/backupmx"
	"postern/internal/config"
	"postern/internal/maps"
	"postern/internal/policy"
	"postern/internal/route"
	"postern/internal/sharedmaps"
)

// buildRelay makes the relay policy from the configuration and the maps
// (nil when there is no maps_dir); serve and explain share it so that
// explain tells what serve does. callouts is the fleet's shared backend
// for the backup MX's answers (nil: each process's own memory).
func buildRelay(cfg *config.Config, m *maps.Set, u policy.Users, own []netip.Addr, callouts backupmx.KV) *policy.Relay {
	local := []policy.Domains{policy.NewDomainList("local_domains", false, cfg.LocalDomains)}
	relay := []policy.Domains{policy.NewDomainList("relay_domains", true, cfg.RelayDomains)}
	if m != nil {
		local = append(local, route.MapDomains{Maps: m.Maps, List: func(x *maps.Maps) *maps.DomainList { return x.LocalHostNames }})
		relay = append(relay, route.MapDomains{Maps: m.Maps, List: func(x *maps.Maps) *maps.DomainList { return x.RelayDomains }})
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
		BackupMX:         newBackupMX(cfg, own, callouts),
	}
}

// newBackupMX builds the [[backup_mx]] verifier, or nil without any.
func newBackupMX(cfg *config.Config, own []netip.Addr, callouts backupmx.KV) policy.BackupMX {
	if len(cfg.BackupMX) == 0 {
		return nil
	}
	var ds []backupmx.Domain
	for _, b := range cfg.BackupMX {
		c := &backupmx.Cache{Positive: b.CalloutCache.Duration(), Negative: b.CalloutNegativeCache.Duration(), Shared: callouts}
		ds = append(ds, backupmx.Domain{Name: b.Domain, Callout: b.Verify == config.VerifyCallout, Cache: c})
	}
	return backupmx.New(backupmx.Options{Domains: ds, Hostname: cfg.Hostname, Resolver: newResolver(cfg),
		IsSelf: route.SelfCheck(listenerAddrs(cfg), own), Port: cfg.Delivery.RemotePort})
}

// mapsFunc gives the maps in force, or nil without maps_dir.
func mapsFunc(m *maps.Set) func() *maps.Maps {
	if m == nil {
		return nil
	}
	return m.Maps
}

// openMaps loads maps_dir and the shared maps ([ldap_maps],
// [postgres_maps]), or returns nil when none is configured.
func openMaps(cfg *config.Config, log *slog.Logger) (*maps.Set, error) {
	ext, err := sharedmaps.Sources(cfg)
	if err != nil {
		return nil, err
	}
	return openMapsFrom(cfg, log, ext)
}

// openMapsFrom is openMaps with the shared maps' sources given.
func openMapsFrom(cfg *config.Config, log *slog.Logger, ext []*maps.External) (*maps.Set, error) {
	if cfg.MapsDir == "" && len(ext) == 0 {
		return nil, nil
	}
	return maps.OpenExternal(cfg.MapsDir, log, ext...)
}
