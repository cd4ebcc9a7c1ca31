package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"postern/internal/alert"
	"postern/internal/console"
	"postern/internal/envelope"
	"postern/internal/history"
	"postern/internal/incident"
	"postern/internal/metrics"
	"postern/internal/spool"
	"postern/internal/status"
	"postern/internal/summary"
)

// operatorCourier wraps the delivery agents: the queued mail of suspended
// users and held messages stays in the queue; the rest is delivered and
// counted (delivered, deferred, bounced, latency).
func operatorCourier(d *deps, c spool.Courier) spool.Courier {
	return &alert.HoldCourier{
		Next:     &metrics.ObservedCourier{Next: c, M: d.metrics},
		Accounts: accountState(d),
		Unknown:  d.users.UnavailableText, // users nobody can read: their mail waits
	}
}

// accountState is the users file's marks and, on a fleet, the shared
// suspensions (held when they cannot be read).
func accountState(d *deps) alert.AccountState {
	shared := d.rate.Suspensions()
	return func(user string) (bool, bool) {
		st := d.users.State(user)
		return st.Suspended || shared != nil && shared.Held(context.Background(), user), st.Revoked
	}
}

// operatorStages builds the operator's view: the metrics checker (first,
// so that it sees every connection), the outbound spike detector with
// account suspension, and the admin listener as a background task.
func operatorStages(d *deps) ([]any, error) {
	cfg := d.cfg
	d.metrics.SetQueue(func() metrics.QueueStats { return status.QueueStats(d.spool.Items(), time.Now()) })
	// The limits (built by a later stage) keep their own counters.
	d.metrics.SetLimits(func() metrics.LimitsSnapshot {
		if d.limits == nil {
			return metrics.LimitsSnapshot{}
		}
		return metrics.LimitsSnapshot{Refusals: d.limits.Refusals(), Backend: cfg.RateLimit.Backend,
			BackendErrors: d.limits.BackendErrors(), Open: d.limits.Connections()}
	})
	stages := []any{&metrics.Checker{M: d.metrics, IsLocal: d.relay.IsLocal}}
	if d.maps != nil {
		// Connect: REJECT entries (postern block) refuse at once.
		stages = append(stages, &incident.AccessChecker{Maps: d.maps.Maps})
	}

	d.history = history.Open(cfg.HistoryDir(), d.log)
	d.metrics.SetHistory(d.history)
	// The postmaster's notices (alerts, summaries) go from the null sender: no bounce loops.
	notify := func(ctx context.Context, msg []byte) error {
		env := &envelope.Envelope{Rcpts: []envelope.Recipient{{Addr: cfg.Postmaster}}, Received: time.Now(), Listener: "local"}
		return queueMessage(ctx, d.spool, env, bytes.NewReader(msg))
	}
	ac := &alert.Checker{Accounts: accountState(d)}
	if a := cfg.Alert; a.Enabled {
		action, err := alert.ParseAction(a.Action)
		if err != nil {
			return nil, err // validated by config.Load
		}
		opt := alert.Options{
			Window: a.Window, BaselineWindows: a.BaselineWindows, Factor: a.Factor,
			UserFloor: a.UserFloor, HostFloor: a.HostFloor, Action: action, Duration: a.Duration,
			IsLocal: d.relay.IsLocal, Webhook: a.Webhook, Hostname: cfg.Hostname, Log: d.log, Counter: d.metrics, History: d.history,
		}
		if a.MailPostmaster && cfg.Postmaster != "" {
			opt.Notify = notify
		}
		ac.D = alert.New(opt)
		d.alerts = ac.D
	}
	stages = append(stages, ac)
	alertMaps(d)
	if sh := d.rate.Suspensions(); sh != nil {
		stages = append(stages, sh) // a fleet's suspensions refuse logins
	}
	d.tasks = append(d.tasks, d.history.Run, summary.Task(cfg, d.history, d.metrics, d.alerts.Active, notify, d.log))

	if cfg.Admin.Address == "" {
		return stages, nil
	}
	opt := metrics.AdminOptions{Status: status.Static(cfg, time.Now()), Reload: func() error {
		return errors.Join(d.maps.Reload(), d.users.Reload(), d.changes.Reload())
	}}
	if d.alerts != nil {
		opt.Alerts = d.alerts.Active
	}
	opt.Problems = func() []string { return append(fileLoads(d).Problems(), d.changes.Problems()...) }
	// The listener and the sandbox line are set by serve before the tasks start.
	opt.Sandbox = func() string { return d.sandbox }
	d.tasks = append(d.tasks, func(ctx context.Context) {
		d.log.Info("admin listener", "address", d.admin.Addr().String())
		con := console.New(console.Options{Users: d.users, Lockout: d.limits, Queue: d.spool, Destinations: d.remote,
			SpoolDir: cfg.SpoolDir(), DMARCDir: cfg.DMARCDir(), DMARCSent: d.rate.DMARCSent(cfg.DMARCDir()), Alerts: opt.Alerts, Problems: opt.Problems, Log: d.log,
			DKIMDir: cfg.DKIMDir(), ActivateAfter: cfg.DKIM.ActivateAfter, Resolver: d.resolver, TLS: d.tls, History: d.history, Changes: d.changes})
		opt.Console, opt.TLS = con, console.ListenerTLS(cfg.Admin.TLS, d.tls)
		go con.Warm(ctx)
		if err := d.metrics.Serve(ctx, d.admin, d.log, opt); err != nil {
			d.log.Error("admin listener failed", "err", err)
		}
	})
	return stages, nil
}

// alertMaps alerts when a map from a shared source becomes unavailable.
func alertMaps(d *deps) {
	if d.maps != nil {
		d.maps.OnUnavailable(func(file, where, reason string) {
			d.alerts.Notice(context.Background(), "map unavailable", "map "+file+" cannot be read: mail waits with 4xx",
				fmt.Sprintf("The map %s (%s) could not be read for longer than its stale period: %s\nEvery recipient gets 451 4.3.0 and queued mail waits until it can be read again.", file, where, reason))
		})
	}
}
