package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"postern/internal/dkim"
	"postern/internal/dmarcreport"
	"postern/internal/envelope"
	"postern/internal/mtasts"
	"postern/internal/route"
	"postern/internal/tlsrpt"
)

// tlsReports builds the TLS report counts ([tlsrpt]) that delivery keeps,
// and the background task that sends each day's reports through the
// queue (https: ones over HTTPS, verified with roots); nil when off. It
// runs after the privilege drop: its files belong to the service user.
func tlsReports(d *deps, roots *x509.CertPool) (route.TLSReports, error) {
	cfg := d.cfg.TLSRPT
	if !cfg.Enabled {
		return nil, nil
	}
	store, claims, err := tlsCounts(d)
	if err != nil {
		return nil, err
	}
	dial := &mtasts.Dialer{Resolver: d.resolver, Allow: tlsrpt.PublicOnly}
	opt := tlsrpt.ReporterOptions{Submitter: cfg.Submitter, From: cfg.ReportFrom, ContactInfo: cfg.ContactInfo,
		HTTPClient: mtasts.NewClient(dial.DialContext, roots, 0)}
	if d.cfg.DKIM.Sign {
		opt.Signer = dkim.NewSigner(d.log, dkim.SignOptions{Dir: d.cfg.DKIMDir(), ActivateAfter: d.cfg.DKIM.ActivateAfter})
	}
	rep, err := tlsrpt.NewReporter(store, claims, d.resolver, d.log, opt)
	if err != nil {
		return nil, err
	}
	d.tasks = append(d.tasks, func(ctx context.Context) {
		rep.Run(ctx, func(ctx context.Context, m tlsrpt.Mail) error { return queueTLSReport(ctx, d, m) })
	})
	return store, nil
}

// tlsCounts returns the fleet's counts and record of the reports sent
// when [ratelimit] backend is shared, else this node's in its data_dir:
// the counts in day files, the record in dmarcreport's claims (dir/sent).
func tlsCounts(d *deps) (tlsrpt.Counts, tlsrpt.Claims, error) {
	if store, claims := d.rate.TLSReports(d.log); store != nil {
		return store, claims, nil
	}
	dir := d.cfg.TLSRPTDir()
	store, err := tlsrpt.OpenStore(dir, d.log, tlsrpt.StoreOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("%w (the TLS report counts in %s: run postern set-permissions to give them to the server's user, move a damaged day file away, or set [tlsrpt] enabled = false)", err, dir)
	}
	claims, err := dmarcreport.NewFileBackend(dir, d.log)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS report store %s: %w", dir, err)
	}
	return store, claims, nil
}

// queueTLSReport puts one TLS report message into the queue, to go
// despite the recipient's TLS failures and uncounted (RFC 8460 5.3): as
// with TLS-Required: No, the published DANE and MTA-STS policies do not
// hold it back.
func queueTLSReport(ctx context.Context, d *deps, m tlsrpt.Mail) error {
	env := &envelope.Envelope{From: m.From, Received: time.Now(), Listener: "tls-report", Rcpts: []envelope.Recipient{{Addr: m.To}}, TLSOptional: true}
	if err := queueMessage(ctx, d.spool, env, bytes.NewReader(m.Data)); err != nil {
		return err
	}
	d.log.InfoContext(ctx, "TLS report queued", "msg", env.ID, "domain", m.PolicyDomain, "to", m.To, "report_id", m.ReportID)
	return nil
}
