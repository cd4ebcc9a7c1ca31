package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"postern/internal/alert"
	"postern/internal/changewatch"
	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/dns"
	"postern/internal/history"
	"postern/internal/limits"
	"postern/internal/maps"
	"postern/internal/metrics"
	"postern/internal/policy"
	"postern/internal/sharedstate"
	"postern/internal/spool"
	"postern/internal/srs"
	"postern/internal/status"
	"postern/internal/users"
)

// deps holds what the pieces of a running server share. serve builds it
// once, after privileges are dropped; each piece takes what it needs.
type deps struct {
	cfg      *config.Config
	log      *slog.Logger
	resolver dns.Resolver
	users    *users.Store
	maps     *maps.Set // nil without maps_dir
	changes  *changewatch.Watcher
	relay    *policy.Relay
	srs      *srs.Rewriter // nil when [srs] is off (wire_srs.go)
	spool    *spool.Spool
	remote   *deliver.Remote // SMTP delivery: its back-offs, for the control socket
	// metrics counts what happens (nil-safe: every method works on nil);
	// stages take it as a metrics.Recorder.
	metrics *metrics.Metrics
	alerts  *alert.Detector // nil when [alert] is off
	history *history.Store  // the console's history (wire_operator.go)
	// rate is the [ratelimit] backend (sharedstate.Open); limits
	// the connection and sender limits, for metrics and status.
	rate   *sharedstate.Store
	limits *limits.Limits
	// tasks run in the background while the server runs (report
	// senders, admin listeners...); they return when ctx ends.
	tasks []func(ctx context.Context)
	// sandbox is the Landlock line of postern status (wire_sandbox.go),
	// set before the tasks start.
	sandbox string
	admin   net.Listener // the admin listener, opened by server.Bind (set by serve); nil when off
	tls     *tls.Config  // the server's certificate (set by assemble), for the admin listener too
}

// newResolver is the server's cached resolver, from [dns].
func newResolver(cfg *config.Config) *dns.Cache {
	trusted, _ := dns.ParseTrusted(cfg.DNS.DNSSECTrusted) // checked by config.Load
	return dns.NewCached(dns.Options{Servers: cfg.DNS.Servers, Timeout: cfg.DNS.Timeout, DNSSECTrusted: trusted})
}

// build makes the shared pieces from the configuration.
func build(cfg *config.Config, log *slog.Logger, own []netip.Addr, sharedMaps []*maps.External, sharedUsers *users.RemoteOptions, state *sharedstate.Store) (*deps, error) {
	d := &deps{cfg: cfg, log: log, metrics: metrics.New(), rate: state}
	state.Check(cfg, log) // now unprivileged
	// One cache for every check: SPF, DMARC and block lists ask the same
	// names again and again.
	d.resolver = newResolver(cfg)
	var err error
	if d.users, err = users.OpenOptions(cfg.UsersFile(), users.Options{Log: log, Remote: sharedUsers}); err != nil {
		return nil, err
	}
	if d.maps, err = openMapsFrom(cfg, log, sharedMaps); err != nil {
		// Fail closed: a map that cannot be read would serve as an
		// empty one (no REJECT entry applied). The error names the file.
		return nil, fmt.Errorf("%w\npostern does not start with a map it cannot load: %s", err, status.LoadFix)
	}
	d.metrics.SetFileLoads(fileLoads(d).Metrics)
	d.relay = buildRelay(cfg, d.maps, d.users, own, state.Shared())
	if err := wireSRS(d); err != nil {
		return nil, err
	}
	courier, err := buildCourier(d)
	if err != nil {
		return nil, err
	}
	courier = routeCourier(d, courier)
	courier = operatorCourier(d, courier)
	if d.spool, err = spool.New(cfg.SpoolDir(), courier, log, spoolOptions(cfg, d.relay.IsLocal)); err != nil {
		return nil, err
	}
	return d, nil
}

// buildCourier returns what delivers queued mail.
func buildCourier(d *deps) (spool.Courier, error) {
	return newDispatcher(d)
}
