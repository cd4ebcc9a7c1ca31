package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"postern/internal/config"
	"postern/internal/mtasts"
)

// bindMTASTS opens the HTTPS listener of our own MTA-STS policy while the
// server may still bind privileged ports; nil when no policy is served.
func bindMTASTS(cfg *config.Config) (net.Listener, error) {
	if !cfg.MTASTS.Serves() {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.MTASTS.Listen)
	if err != nil {
		return nil, fmt.Errorf("mta_sts.listen %s: %w", cfg.MTASTS.Listen, err)
	}
	return ln, nil
}

// stsCacheDir is where the MTA-STS policies of other domains are kept.
func stsCacheDir(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "mta-sts") }

// newSTSCache builds the MTA-STS policy cache delivery enforces, with the
// policies kept from before a restart, and its background refresh; nil
// when [mta_sts] outbound = "off". roots verify the policy servers
// (the system roots and tls_ca_file). A cache directory that cannot be
// read stops the server: its policies would otherwise be forgotten.
func newSTSCache(d *deps, roots *x509.CertPool) (*mtasts.Cache, error) {
	if d.cfg.MTASTS.Outbound == config.MTASTSOff {
		return nil, nil
	}
	c := &mtasts.Cache{
		Dir:      stsCacheDir(d.cfg),
		Resolver: d.resolver,
		Client:   mtasts.NewClient((&mtasts.Dialer{Resolver: d.resolver}).DialContext, roots, 0),
		Log:      d.log,
	}
	if err := c.Load(); err != nil {
		return nil, fmt.Errorf("MTA-STS policy cache %s: %w (fix its permissions, or remove it to fetch the policies again)", c.Dir, err)
	}
	d.tasks = append(d.tasks, func(ctx context.Context) { c.Run(ctx, 0) })
	return c, nil
}

// ownPolicy is our MTA-STS policy file, from [mta_sts].
func ownPolicy(m config.MTASTS) string {
	p := &mtasts.Policy{Mode: mtasts.Mode(m.PolicyMode), MX: m.MX, MaxAge: int64(m.MaxAge / time.Second)}
	if p.Mode == mtasts.None {
		p.MX = nil
	}
	return p.Text()
}

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
// the server's certificate, on the listener bindMTASTS opened.
func serveMTASTS(d *deps, ln net.Listener, tlsConf *tls.Config) {
	if ln == nil {
		return
	}
	body := ownPolicy(d.cfg.MTASTS)
	srv := &http.Server{
		Handler:           mtasts.Handler(policyDomains(d.cfg), body),
		TLSConfig:         tlsConf.Clone(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	srv.TLSConfig.NextProtos = []string{"http/1.1"}
	d.log.Info("serving the MTA-STS policy", "address", ln.Addr().String(), "mode", d.cfg.MTASTS.PolicyMode,
		"record", mtasts.RecordText(body))
	d.tasks = append(d.tasks, func(ctx context.Context) {
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("MTA-STS policy server stopped", "address", ln.Addr().String(), "err", err)
		}
	})
}
