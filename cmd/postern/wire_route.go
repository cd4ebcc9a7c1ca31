package main

import (
	"context"
	"io"
	"path/filepath"

	"postern/internal/arc"
	"postern/internal/dkim"
	"postern/internal/envelope"
	"postern/internal/maps"
	"postern/internal/route"
	"postern/internal/spool"
)

// accessStages builds the access map's checks that are not about
// relaying (From: refusals at MAIL FROM, DISCARD and QUARANTINE); the
// relay meaning is in the relay decision itself (buildRelay).
func accessStages(d *deps) ([]any, error) {
	if d.maps == nil {
		return nil, nil
	}
	return []any{&route.AccessChecker{Relay: d.relay, Log: d.log}}, nil
}

// routeStages builds the outbound sender rewriting (genericstable and
// masquerading) of mail from authenticated or trusted clients; it runs
// before DKIM signing.
func routeStages(d *deps) ([]any, error) {
	rw := senderRewriter(d)
	if rw == nil {
		return nil, nil
	}
	return []any{&route.SenderChecker{Rewriter: rw, Applies: route.FromOwnUsers(d.cfg.Trusted)}}, nil
}

// senderRewriter makes the sender rewriting from [delivery], or nil when
// there is nothing to rewrite with (no masquerade_as and no genericstable
// file).
func senderRewriter(d *deps) *route.SenderRewriter {
	r := d.cfg.Delivery.DeliveryRoute
	var mapsFn func() *maps.Maps
	if d.maps != nil {
		mapsFn = d.maps.Maps
	}
	if r.MasqueradeAs == "" && mapsFn == nil {
		return nil
	}
	local := append([]string{d.cfg.Hostname}, d.cfg.LocalDomains...)
	rw := &route.SenderRewriter{
		Maps:     mapsFn,
		Generics: maps.GenericsOptions{Domains: r.GenericsDomains, EntireDomain: r.GenericsEntireDomain},
		Masquerade: maps.Masquerade{As: r.MasqueradeAs, Domains: append(append([]string(nil), local...), r.MasqueradeDomains...),
			EntireDomain: r.MasqueradeEntireDomain, Exposed: r.Exposed()},
		Hostname: d.cfg.Hostname,
	}
	if len(r.GenericsDomains) == 0 {
		// generics_domains empty: our own domains, as
		// GENERICS_DOMAIN_FILE(local-host-names) would give.
		rw.Generics.Domains, rw.GenericsLocal = local, true
	}
	if d.maps != nil {
		rw.LocalNames = func() []string { return d.maps.Maps().LocalHostNames.Names() }
	}
	return rw
}

// routeCourier wraps the delivery agents with alias and .forward
// expansion of local recipients. Forwarded copies go into d.spool, which
// exists by the time anything is delivered.
func routeCourier(d *deps, inner spool.Courier) spool.Courier {
	r := d.cfg.Delivery.DeliveryRoute
	c := &route.Courier{
		Inner:         inner,
		IsLocal:       d.relay.IsLocal,
		Users:         d.users,
		Postmaster:    d.cfg.Postmaster,
		AllowFiles:    r.AllowAliasFiles,
		AllowCommands: r.AllowAliasCommands,
		Log:           d.log,
	}
	if d.maps != nil {
		c.Maps = d.maps.Maps
	}
	if len(r.ForwardPath) > 0 {
		c.Forward = &route.ForwardFiles{Paths: r.ForwardPath, Home: route.SystemHome, Log: d.log}
	}
	fw := &route.Forwarder{
		Dir: filepath.Join(d.cfg.DataDir, "forwards"),
		Log: d.log,
		Inject: func(ctx context.Context, env *envelope.Envelope, content io.Reader) error {
			return queueMessage(ctx, d.spool, env, content)
		},
	}
	c.Forwarder = fw
	c.SRS = srsSender(d)
	if d.cfg.ARC.Seal {
		c.ARC = &arc.Sealer{Keys: dkim.NewSigner(d.log, dkim.SignOptions{Dir: d.cfg.DKIMDir(),
			ActivateAfter: d.cfg.DKIM.ActivateAfter}), Domain: d.cfg.ARC.SealDomain, AuthServID: d.cfg.Hostname}
	}
	// The served /file and |command targets are marked next to the
	// forwarded copies, and pruned with them.
	c.Done = &route.Marks{Dir: fw.Dir}
	d.tasks = append(d.tasks, fw.Run)
	return c
}
