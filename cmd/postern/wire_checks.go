package main

import (
	"fmt"
	"net/netip"
	"time"

	"postern/internal/dnsbl"
	"postern/internal/greylist"
	"postern/internal/reputation"
)

// checksStages builds the connection-time checks of [checks]: DNS block
// lists and reverse DNS (connect, refused at RCPT), the early-talker
// pause, HELO checks, and greylisting (RCPT).
func checksStages(d *deps) ([]any, error) {
	cfg := d.cfg
	k := &cfg.Checks
	exempt := reputation.Exempt{Networks: append(append([]netip.Prefix(nil), cfg.TrustedNetworks...), k.Allow...)}

	bl := &reputation.DNSBL{Resolver: d.resolver, Log: d.log, Listeners: map[string]bool{},
		AtConnect: k.DNSBL.Stage == "connect", Exempt: exempt, Hits: d.metrics}
	for _, l := range k.DNSBL.Lists {
		codes, err := dnsbl.ParseCodes(l.Codes)
		if err != nil {
			return nil, err // validated by config.Load
		}
		bl.Lists = append(bl.Lists, &dnsbl.List{Zone: l.Zone, Codes: codes, Reply: l.Reply, TempFail: l.OnError == "tempfail"})
	}
	rdns := &reputation.RDNS{Resolver: d.resolver, Log: d.log, Policy: map[string]reputation.RDNSPolicy{}, Exempt: exempt,
		// The system resolver has nothing to say about loopback clients
		// (RFC 6303 4.2) but would ask the upstream server anyway.
		SkipLoopback: len(cfg.DNS.Servers) == 0}
	greet := &reputation.EarlyTalker{Pause: map[string]time.Duration{}, Remember: k.GreetRemember(), Exempt: exempt, Log: d.log}
	helo := &reputation.Helo{Level: map[string]reputation.HeloLevel{}, Hostname: cfg.Hostname,
		IsLocal: d.relay.IsLocal, OwnAddrs: d.relay.OwnAddrs, Resolver: d.resolver, Exempt: exempt}
	gs := k.GreylistSettings()
	grey := &greylist.Greylist{Delay: gs.Delay, RetryWindow: gs.RetryWindow, Expire: gs.Expire,
		AutoAllowAfter: gs.AutoAllowAfter, Listeners: map[string]bool{}, Exempt: exempt.Client, Log: d.log}

	var used struct{ bl, rdns, greet, helo, grey bool }
	for _, l := range cfg.Listeners {
		lc := cfg.ListenerChecks(l)
		d.log.Debug("checks", "listener", l.Name, "settings", lc.String())
		if lc.DNSBL && len(bl.Lists) > 0 {
			bl.Listeners[l.Name], used.bl = true, true
		}
		if p, _ := reputation.ParseRDNSPolicy(lc.RDNS); p != reputation.RDNSOff {
			rdns.Policy[l.Name], used.rdns = p, true
		}
		if lc.GreetPause > 0 {
			greet.Pause[l.Name], used.greet = lc.GreetPause, true
		}
		if h, _ := reputation.ParseHeloLevel(lc.Helo); h != reputation.HeloOff {
			helo.Level[l.Name], used.helo = h, true
		}
		if lc.Greylist {
			grey.Listeners[l.Name], used.grey = true, true
		}
	}
	// Cheapest first: the early talker is decided before any lookup, a
	// listed client is refused before its reverse DNS matters.
	var stages []any
	if used.greet {
		stages = append(stages, greet)
	}
	if used.bl {
		stages = append(stages, bl)
	}
	if used.rdns {
		stages = append(stages, rdns)
	}
	if used.helo {
		stages = append(stages, helo)
	}
	if used.grey {
		var err error
		if grey.Store, err = greylistStore(d); err != nil {
			return nil, err
		}
		stages = append(stages, grey)
	}
	return stages, nil
}

// greylistStore is where greylisting keeps its state: the rate limits'
// backend ([ratelimit] backend), so that nodes sharing a Redis share one
// greylist; in-process otherwise. Only called when greylisting is on.
func greylistStore(d *deps) (greylist.Store, error) {
	// The same backend as the rate limits: one Redis client, one policy
	// when it fails.
	s, err := rateBackend(d)
	if err != nil {
		return nil, fmt.Errorf("greylist: %w", err)
	}
	return s.Backend, nil
}
