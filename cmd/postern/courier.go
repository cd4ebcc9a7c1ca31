package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"

	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/dns"
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
		Hostname:               cfg.Hostname,
		Resolver:               d.resolver,
		Log:                    d.log,
		Port:                   r.RemotePort,
		ConnectTimeout:         r.ConnectTimeout,
		DestinationConcurrency: r.DestinationConcurrency,
		ConnectionReuse:        r.ConnectionReuse,
		ConnectionIdle:         r.ConnectionIdle,
		IsSelf:                 route.SelfCheck(listenerAddrs(cfg), d.relay.OwnAddrs),
	}
	pol, err := tlsPolicies(cfg)
	if err != nil {
		return nil, err
	}
	pol.Maps = mapsFunc(d.maps)
	if r.TLSCAFile != "" {
		if remote.RootCAs, err = caPool(r.TLSCAFile); err != nil {
			return nil, err
		}
	}
	sts, err := newSTSCache(d, remote.RootCAs)
	if err != nil {
		return nil, err
	}
	if sts != nil {
		pol.STS = sts
	}
	pol.DNSSEC, remote.DNSSEC = daneResolver(cfg, d.resolver)
	remote.TLS = pol
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

// daneResolver is the resolver DANE asks for TLSA records, and whether
// DANE is on ([delivery] dane).
func daneResolver(cfg *config.Config, r dns.Resolver) (dns.DNSSECResolver, bool) {
	dr, ok := r.(dns.DNSSECResolver)
	if !ok || cfg.Delivery.DANE != config.DANEEnforce {
		return nil, false
	}
	return dr, true
}

// caPool is the system roots and the certificates of [delivery]
// tls_ca_file.
func caPool(file string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("delivery.tls_ca_file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("delivery.tls_ca_file %s: no PEM certificate", file)
	}
	return pool, nil
}

// tlsPolicies reads tls_policy and [[delivery.tls_destination]].
func tlsPolicies(cfg *config.Config) (*route.TLSPolicies, error) {
	def, err := deliver.ParseTLSPolicy(cfg.Delivery.TLSPolicy)
	if err != nil {
		return nil, fmt.Errorf("delivery.tls_policy: %w", err)
	}
	p := &route.TLSPolicies{Default: def, Destinations: map[string]deliver.TLSPolicy{}}
	for _, t := range cfg.Delivery.TLSDestinations {
		pol, err := deliver.ParseTLSPolicy(t.Policy)
		if err != nil {
			return nil, fmt.Errorf("delivery.tls_destination %s: %w", t.Destination, err)
		}
		p.Destinations[t.Destination] = pol
	}
	return p, nil
}

// listenerAddrs are the addresses of the [[listener]] tables.
func listenerAddrs(cfg *config.Config) []string {
	var out []string
	for _, l := range cfg.Listeners {
		out = append(out, l.Address)
	}
	return out
}
