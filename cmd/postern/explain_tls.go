package main

import (
	"context"
	"crypto/x509"

	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/maps"
	"postern/internal/mtasts"
)

// explainTLS is postern explain's view of outbound TLS: the server's
// rules (tls_policy, tls_destination, Try_TLS, MTA-STS) with the MTA-STS
// policies the server has cached, read but never written.
func explainTLS(cfg *config.Config, mapSet *maps.Set) (func(ctx context.Context, domain string) []string, error) {
	pol, err := tlsPolicies(cfg)
	if err != nil {
		return nil, err
	}
	pol.Maps = mapsFunc(mapSet)
	resolver := newResolver(cfg)
	pol.DNSSEC, _ = daneResolver(cfg, resolver)
	r := cfg.Delivery.DeliveryRemote
	if cfg.MTASTS.Outbound != config.MTASTSOff {
		var roots *x509.CertPool
		if r.TLSCAFile != "" {
			if roots, err = caPool(r.TLSCAFile); err != nil {
				return nil, err
			}
		}
		c := &mtasts.Cache{Dir: stsCacheDir(cfg), ReadOnly: true, Resolver: resolver,
			Client: mtasts.NewClient((&mtasts.Dialer{Resolver: resolver}).DialContext, roots, 0)}
		if err := c.Load(); err != nil {
			return nil, err
		}
		pol.STS = c
	}
	var smarthost *deliver.Hop
	if r.Smarthost != "" {
		h, err := deliver.ParseHop(r.Smarthost)
		if err != nil {
			return nil, err
		}
		smarthost = &h
	}
	return func(ctx context.Context, domain string) []string {
		var mt *maps.Mailertable
		if mapSet != nil {
			mt = mapSet.Maps().Mailertable
		}
		return pol.DescribeRoute(ctx, resolver, mt, smarthost, domain, r.RemotePort)
	}, nil
}
