package main

import (
	"context"
	"crypto/tls"
	"net"

	"postern/internal/config"
	"postern/internal/mtasts"
)

// policyDomains are the domains whose mail comes to us, for which our
// policy is served at mta-sts.<domain>.
func policyDomains(cfg *config.Config) []string {
	out := append(append([]string{}, cfg.LocalDomains...), cfg.RelayDomains...)
	if len(out) == 0 {
		out = []string{cfg.Hostname}
	}
	return out
}

// serveMTASTS adds the policy server to the background tasks: HTTPS with
// the server's certificate, on the listener server.Bind opened.
func serveMTASTS(d *deps, ln net.Listener, tlsConf *tls.Config) {
	if ln == nil {
		return
	}
	m := d.cfg.MTASTS
	body := mtasts.OwnPolicy(m.PolicyMode, m.MX, m.MaxAge)
	d.log.Info("serving the MTA-STS policy", "address", ln.Addr().String(), "mode", m.PolicyMode, "record", mtasts.RecordText(body))
	d.tasks = append(d.tasks, func(ctx context.Context) {
		if err := mtasts.Serve(ctx, ln, tlsConf, policyDomains(d.cfg), body); err != nil {
			d.log.Error("MTA-STS policy server stopped", "address", ln.Addr().String(), "err", err)
		}
	})
}
