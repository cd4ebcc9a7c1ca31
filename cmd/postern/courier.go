package main

import (
	"context"
	"fmt"
	"path/filepath"

	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/route"
)

// newDispatcher builds the delivery agents from the configuration and
// the route.Dispatcher that chooses among them.
func newDispatcher(d *deps) (*route.Dispatcher, error) {
	cfg := d.cfg
	remote, err := newRemote(d)
	if err != nil {
		return nil, err
	}
	r := cfg.Delivery.DeliveryRemote
	// LMTP servers get the same reuse and idle time as SMTP next hops.
	lmtp := &deliver.LMTPPool{MaxMessages: r.ConnectionReuse, Idle: r.ConnectionIdle}
	d.tasks = append(d.tasks, func(ctx context.Context) {
		<-ctx.Done()
		remote.Close()
		lmtp.Close()
	})
	return &route.Dispatcher{
		Local:    &deliver.Local{Mailbox: cfg.Delivery.Mailbox, IsLocal: d.relay.IsLocal, Log: d.log},
		AnyLocal: &deliver.Local{Mailbox: cfg.Delivery.Mailbox, Log: d.log},
		Remote:   remote,
		LMTP:     lmtp,
		Maps:     mapsFunc(d.maps),
		IsLocal:  d.relay.IsLocal,
		Hostname: cfg.Hostname,
		Log:      d.log,
	}, nil
}

// newRemote builds SMTP delivery: [delivery] remote settings, TLS
// policies, CA file, smarthost and its credentials.
func newRemote(d *deps) (*deliver.Remote, error) {
	cfg := d.cfg
	r := cfg.Delivery.DeliveryRemote
	remote := &deliver.Remote{
		Hostname:                  cfg.Hostname,
		Resolver:                  d.resolver,
		Log:                       d.log,
		Port:                      r.RemotePort,
		ConnectTimeout:            r.ConnectTimeout,
		DestinationConcurrency:    r.DestinationConcurrency,
		DestinationRateDelay:      r.DestinationRateDelay.Duration(),
		DestinationRecipientLimit: r.DestinationRecipientLimit,
		BackoffMin:                cfg.Queue.RetryInitial,
		BackoffMax:                cfg.Queue.RetryMax,
		ConnectionReuse:           r.ConnectionReuse,
		ConnectionIdle:            r.ConnectionIdle,
		IsSelf:                    route.SelfCheck(listenerAddrs(cfg), d.relay.OwnAddrs),
		Direct:                    cfg.IsBackupMX,
	}
	for _, x := range r.Destinations {
		remote.SetDestination(x.Match, deliver.DestinationLimits{Concurrency: x.Concurrency, RateDelay: x.RateDelay.Duration(), RecipientLimit: x.RecipientLimit})
	}
	d.remote = remote
	d.metrics.SetBackedOff(func() int { return len(remote.BackedOff()) })
	t, err := route.NewTLS(tlsSettings(cfg, false), d.resolver, d.log)
	if err != nil {
		return nil, err
	}
	if t.STS != nil {
		d.tasks = append(d.tasks, func(ctx context.Context) { t.STS.Run(ctx, 0) })
	}
	t.Policies.Maps = mapsFunc(d.maps)
	if t.Policies.Reports, err = tlsReports(d, t.Roots); err != nil {
		return nil, err
	}
	remote.TLS, remote.RootCAs, remote.DNSSEC = t.Policies, t.Roots, t.Policies.DNSSEC != nil
	if r.Smarthost != "" {
		h, err := deliver.ParseHop(r.Smarthost)
		if err != nil {
			return nil, fmt.Errorf("delivery.smarthost: %w", err)
		}
		remote.Smarthost = &h
		if r.SmarthostAuthFile != "" {
			u, p, err := config.ReadSmarthostAuth(r.SmarthostAuthFile)
			if err != nil {
				return nil, fmt.Errorf("delivery.smarthost_auth_file: %w", err)
			}
			remote.SmarthostAuth = &deliver.Credentials{User: u, Password: p}
		}
	}
	return remote, nil
}

// tlsSettings are the outbound TLS settings of cfg; readOnly for the
// commands, which must not write the server's MTA-STS cache.
func tlsSettings(cfg *config.Config, readOnly bool) route.TLSSettings {
	r := cfg.Delivery.DeliveryRemote
	s := route.TLSSettings{Default: r.TLSPolicy, Destinations: map[string]string{}, CAFile: r.TLSCAFile,
		DANE: r.DANE == config.DANEEnforce, MTASTS: cfg.MTASTS.Outbound != config.MTASTSOff,
		STSDir: filepath.Join(cfg.DataDir, "mta-sts"), STSReadOnly: readOnly}
	for _, t := range r.TLSDestinations {
		s.Destinations[t.Destination] = t.Policy
	}
	return s
}

// listenerAddrs are the addresses of the [[listener]] tables.
func listenerAddrs(cfg *config.Config) []string {
	var out []string
	for _, l := range cfg.Listeners {
		out = append(out, l.Address)
	}
	return out
}
