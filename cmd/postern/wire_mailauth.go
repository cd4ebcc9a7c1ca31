package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/config"
	"postern/internal/dkim"
	"postern/internal/dmarc"
	"postern/internal/dmarcreport"
	"postern/internal/envelope"
	"postern/internal/mailauth"
)

// mailauthStages builds SPF, DKIM verification and DMARC for mail from
// other domains, the intake of DMARC reports sent to report_inbox, and
// the background task that sends our aggregate reports.
func mailauthStages(d *deps) ([]any, error) {
	cfg := d.cfg
	nets, hosts, err := dmarc.ParseTrusted(cfg.DMARC.TrustedForwarders)
	if err != nil {
		return nil, fmt.Errorf("dmarc.trusted_forwarders: %w", err)
	}
	store, err := d.rate.DMARCStore(cfg.DMARCDir(), d.log)
	if err != nil {
		return nil, fmt.Errorf("dmarc store: %w", err)
	}
	var failures mailauth.FailureReporter
	var frep *dmarcreport.FailureReporter
	if cfg.DMARC.FailureReports {
		frep, err = dmarcreport.NewFailureReporter(d.resolver, d.log, dmarcreport.FailureOptions{
			ReceiverDomain: cfg.Hostname,
			From:           cfg.DMARC.ReportFrom,
			UserAgent:      "postern/" + version,
			Interval:       cfg.DMARC.FailureReportInterval,
			PerHour:        cfg.DMARC.FailureReportsPerHour,
		})
		if err != nil {
			return nil, err
		}
		failures = frep
	}
	v := mailauth.NewVerifier(mailauth.Options{
		Hostname: cfg.Hostname,
		// d.resolver keeps answers briefly: each sending domain's SPF,
		// DKIM and DMARC records are needed for every message.
		Resolver:          d.resolver,
		Log:               d.log,
		Trusted:           cfg.Trusted,
		NoSPF:             !cfg.SPF.Check,
		NoDKIM:            !cfg.DKIM.Verify,
		NoDMARC:           !cfg.DMARC.Check,
		NoARC:             !cfg.ARC.Verify,
		TrustedSealers:    cfg.ARC.TrustedSealers,
		SPFRejectFail:     cfg.SPF.RejectFail,
		DKIMMaxSignatures: cfg.DKIM.MaxSignatures,
		Enforce:           dmarc.EnforceOptions{Enforce: cfg.DMARC.Enforce, Quarantine: cfg.DMARC.Quarantine},
		Local:             dmarc.LocalPolicy{TrustedForwarders: nets, TrustedHosts: hosts},
		Store:             store,
		Failures:          failures,
	})
	// Even with every check off, the verifier removes forged
	// Authentication-Results in our name.
	stages := []any{v}
	if cfg.DMARC.ReportInbox != "" {
		stages = append(stages, &mailauth.ReportInbox{Addr: cfg.DMARC.ReportInbox,
			Store: dmarcreport.ReceivedStore{Dir: filepath.Join(cfg.DMARCDir(), "received")}, Log: d.log})
	}
	rep, err := newReporter(cfg, d, store)
	if err != nil {
		return nil, err
	}
	var signer *dkim.Signer
	if cfg.DKIM.Sign {
		signer = dkim.NewSigner(d.log, dkim.SignOptions{Dir: cfg.DKIMDir(), ActivateAfter: cfg.DKIM.ActivateAfter})
	}
	if frep != nil {
		d.tasks = append(d.tasks, func(ctx context.Context) {
			frep.Run(ctx, func(ctx context.Context, o dmarcreport.Outgoing) error {
				return queueReport(ctx, d, signer, o)
			})
		})
	}
	d.tasks = append(d.tasks, func(ctx context.Context) {
		rep.Run(ctx, func(ctx context.Context, o dmarcreport.Outgoing) error {
			return queueReport(ctx, d, signer, o)
		})
		if err := store.Close(); err != nil {
			d.log.Warn("dmarc store close", "err", err)
		}
	})
	return stages, nil
}

// newReporter makes the aggregate report builder of the configuration.
func newReporter(cfg *config.Config, d *deps, store dmarcreport.Backend) (*dmarcreport.Reporter, error) {
	return dmarcreport.NewReporter(store, d.resolver, d.log, dmarcreport.ReporterOptions{
		ReceiverDomain: cfg.Hostname,
		From:           cfg.DMARC.ReportFrom,
		Interval:       cfg.DMARC.ReportInterval,
	})
}

// queueReport puts one aggregate or failure report into the queue, DKIM-signed when
// report_from's domain has a key; delivery sends it like any mail.
func queueReport(ctx context.Context, d *deps, signer *dkim.Signer, o dmarcreport.Outgoing) error {
	var sig string
	if signer != nil {
		dom := o.From[strings.LastIndexByte(o.From, '@')+1:]
		s, err := signer.Sign(ctx, dom, bytes.NewReader(o.Data))
		if err != nil {
			// Never unsigned from a domain that signs: the report
			// waits for a usable key.
			return fmt.Errorf("dmarc report not queued: the DKIM key of %s cannot be used: %w", dom, err)
		}
		sig = s
	}
	env := &envelope.Envelope{From: o.From, Received: time.Now(), Listener: "dmarc-report"}
	for _, to := range o.To {
		env.Rcpts = append(env.Rcpts, envelope.Recipient{Addr: to})
	}
	if err := queueMessage(ctx, d.spool, env, io.MultiReader(strings.NewReader(sig), bytes.NewReader(o.Data))); err != nil {
		return err
	}
	d.log.InfoContext(ctx, "dmarc report queued", "msg", env.ID, "domain", o.PolicyDomain, "to", strings.Join(o.To, ","), "report_id", o.ReportID)
	return nil
}

// dkimSignStages builds DKIM signing, the last DATA stage.
func dkimSignStages(d *deps) ([]any, error) {
	if !d.cfg.DKIM.Sign {
		return nil, nil
	}
	// The server's signer: it checks new selectors' DNS records.
	s := dkim.NewSigner(d.log, dkim.SignOptions{Dir: d.cfg.DKIMDir(), ActivateAfter: d.cfg.DKIM.ActivateAfter,
		Resolver: d.resolver, CheckInterval: d.cfg.DKIM.DNSCheckInterval})
	d.tasks = append(d.tasks, s.Run)
	return []any{mailauth.NewSigner(s, d.cfg.Trusted, d.log)}, nil
}
