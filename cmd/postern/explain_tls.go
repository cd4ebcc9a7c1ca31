package main

import (
	"context"

	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/maps"
	"postern/internal/route"
)

// explainTLS is postern explain's view of outbound TLS: the server's
// rules, built as the server builds them, with the MTA-STS policies the
// server keeps, read but never written.
func explainTLS(cfg *config.Config, mapSet *maps.Set) (func(ctx context.Context, domain string) []string, error) {
	resolver := newResolver(cfg)
	t, err := route.NewTLS(tlsSettings(cfg, true), resolver, nil)
	if err != nil {
		return nil, err
	}
	t.Policies.Maps = mapsFunc(mapSet)
	r := cfg.Delivery.DeliveryRemote
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
		return t.Policies.DescribeRoute(ctx, resolver, mt, smarthost, domain, r.RemotePort)
	}, nil
}
