package main

import (
	"context"
	"io"
	"strings"
	"time"

	"postern/internal/config"
	"postern/internal/control"
	"postern/internal/envelope"
	"postern/internal/layout"
	"postern/internal/spool"
)

// spoolOptions turns [queue] and [delivery] mode into the spool's
// options. isLocal (a domain test; nil outside the server) decides which
// recipients get success notices.
func spoolOptions(cfg *config.Config, isLocal func(domain string) bool) spool.Options {
	q := cfg.Queue
	opt := spool.Options{
		RetryInitial:  q.RetryInitial,
		RetryMax:      q.RetryMax,
		Lifetime:      q.Lifetime,
		WarnAfter:     time.Duration(q.WarnAfter),
		Deferred:      cfg.Delivery.Mode == config.DeliveryDeferred,
		QueueInterval: q.QueueInterval,
		Hostname:      cfg.Hostname,
		Postmaster:    cfg.Postmaster,
	}
	if isLocal != nil {
		opt.LocalRecipient = func(addr string) bool {
			at := strings.LastIndexByte(addr, '@')
			return at < 0 || isLocal(strings.ToLower(addr[at+1:]))
		}
	}
	return opt
}

// serveControl opens the control socket (after privileges are dropped,
// so it belongs to the server's user) and adds the task answering on it.
// Without the socket mail still flows: the error is logged and the queue
// commands say that the server does not answer.
func serveControl(d *deps) error {
	ln, err := control.Listen(layout.ControlSocket(d.cfg))
	if err != nil {
		d.log.Error("control socket off: postern queue flush|requeue|hold|release|remove|bounce cannot reach the server", "err", err)
		return nil
	}
	srv := &control.Server{Queue: d.spool, Destinations: d.remote, Log: d.log}
	d.tasks = append(d.tasks, func(ctx context.Context) {
		if err := srv.Serve(ctx, ln); err != nil {
			d.log.Error("control socket", "err", err)
		}
	})
	return nil
}

// queueMessage puts a message into the queue: created, written and
// committed (synced) before it returns.
func queueMessage(ctx context.Context, sp *spool.Spool, env *envelope.Envelope, content io.Reader) error {
	w, err := sp.Create(env)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, content); err != nil {
		return err
	}
	return w.Commit(ctx)
}
