package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"postern/internal/alert"
	"postern/internal/config"
	"postern/internal/envelope"
	"postern/internal/incident"
	"postern/internal/metrics"
	"postern/internal/spool"
)

// operatorCourier wraps the delivery agents: the queued mail of suspended
// users and held messages stays in the queue; the rest is delivered and
// counted (delivered, deferred, bounced, latency).
func operatorCourier(d *deps, c spool.Courier) spool.Courier {
	return &alert.HoldCourier{
		Next:     &metrics.ObservedCourier{Next: c, M: d.metrics},
		Accounts: accountState(d),
	}
}

func accountState(d *deps) alert.AccountState {
	return func(user string) (bool, bool) {
		st := d.users.State(user)
		return st.Suspended, st.Revoked
	}
}

// operatorStages builds the operator's view: the metrics checker (first,
// so that it sees every connection), the outbound spike detector with
// account suspension, and the admin listener as a background task.
func operatorStages(d *deps) ([]any, error) {
	cfg := d.cfg
	d.metrics.SetQueue(func() metrics.QueueStats { return queueStats(d.spool.Items(), time.Now()) })
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

	ac := &alert.Checker{Accounts: accountState(d)}
	if a := cfg.Alert; a.Enabled {
		action, err := alert.ParseAction(a.Action)
		if err != nil {
			return nil, err // validated by config.Load
		}
		opt := alert.Options{
			Window: a.Window, BaselineWindows: a.BaselineWindows, Factor: a.Factor,
			UserFloor: a.UserFloor, HostFloor: a.HostFloor, Action: action, Duration: a.Duration,
			IsLocal: d.relay.IsLocal, Webhook: a.Webhook, Hostname: cfg.Hostname, Log: d.log, Counter: d.metrics,
		}
		if a.MailPostmaster && cfg.Postmaster != "" {
			opt.Notify = func(ctx context.Context, msg []byte) error { return injectMail(ctx, d.spool, cfg.Postmaster, msg) }
		}
		ac.D = alert.New(opt)
		d.alerts = ac.D
	}
	stages = append(stages, ac)

	if cfg.Admin.Address != "" {
		ln, err := net.Listen("tcp", cfg.Admin.Address)
		if err != nil {
			// Mail matters more than metrics: say so loudly, serve on.
			d.log.Error("admin listener not started", "address", cfg.Admin.Address, "err", err)
		} else {
			opt := metrics.AdminOptions{Status: staticStatus(cfg, time.Now()), Reload: func() error {
				var errs []error
				if d.maps != nil {
					errs = append(errs, d.maps.Reload())
				}
				errs = append(errs, d.users.Reload())
				return errors.Join(errs...)
			}}
			if d.alerts != nil {
				opt.Alerts = d.alerts.Active
			}
			opt.Problems = func() []string { return loadProblems(d) }
			// Set by serve before the tasks start.
			opt.Sandbox = func() string { return d.sandbox }
			d.log.Info("admin listener", "address", ln.Addr().String())
			d.tasks = append(d.tasks, func(ctx context.Context) {
				if err := d.metrics.Serve(ctx, ln, d.log, opt); err != nil {
					d.log.Error("admin listener failed", "err", err)
				}
			})
		}
	}
	return stages, nil
}

// injectMail queues msg from the null sender (no bounce loops) to rcpt.
func injectMail(ctx context.Context, sp *spool.Spool, rcpt string, msg []byte) error {
	env := &envelope.Envelope{From: "", Rcpts: []envelope.Recipient{{Addr: rcpt}}, Received: time.Now(), Listener: "local"}
	w, err := sp.Create(env)
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Abort()
		return err
	}
	return w.Commit(ctx)
}

// queueStats sums up the queue for metrics and status.
func queueStats(items []spool.Item, now time.Time) metrics.QueueStats {
	var q metrics.QueueStats
	for _, it := range items {
		q.Messages++
		age := now.Sub(it.Arrived)
		if !it.Arrived.IsZero() && age > q.OldestAge {
			q.OldestAge = age
		}
		if strings.Contains(it.LastError, alert.HeldPrefix) {
			q.Held++
			continue
		}
		if it.Attempts > 0 {
			q.Deferred++
			if !it.Arrived.IsZero() && age > q.OldestDeferredAge {
				q.OldestDeferredAge = age
			}
		}
	}
	return q
}

// staticStatus is the part of /status that the configuration decides.
func staticStatus(cfg *config.Config, started time.Time) metrics.Status {
	st := metrics.Status{Hostname: cfg.Hostname, Started: started, Limits: limitsInForce(cfg)}
	for _, l := range cfg.Listeners {
		st.Listeners = append(st.Listeners, metrics.ListenerInfo{Name: l.Name, Address: l.Address, Mode: string(l.Mode)})
	}
	return st
}

// limitsInForce lists the limits of the configuration, by config key.
func limitsInForce(cfg *config.Config) map[string]string {
	l := cfg.Limits
	m := map[string]string{
		"limits.max_message_bytes": fmt.Sprint(l.MaxMessageBytes),
		"limits.max_recipients":    fmt.Sprint(l.MaxRecipients),
		"limits.max_errors":        fmt.Sprint(l.MaxErrors),
		"limits.command_timeout":   l.CommandTimeout.String(),
		"limits.data_timeout":      l.DataTimeout.String(),
		"alert.action":             "off",
	}
	rl := cfg.RateLimit
	for k, v := range map[string]config.Limit{
		"connections_per_ip_per_hour":   rl.ConnectionsPerIPPerHour,
		"max_connections":               rl.MaxConnections,
		"max_connections_per_ip":        rl.MaxConnectionsPerIP,
		"messages_per_user_per_hour":    rl.MessagesPerUserPerHour,
		"recipients_per_user_per_hour":  rl.RecipientsPerUserPerHour,
		"auth_failures_per_ip_per_hour": rl.AuthFailuresPerIPPerHour,
		"outbound_per_user_per_hour":    rl.OutboundPerUserPerHour,
		"outbound_per_host_per_hour":    rl.OutboundPerHostPerHour,
	} {
		switch {
		case v == config.Unlimited:
			m["ratelimit."+k] = "unlimited"
		case v == 0:
			m["ratelimit."+k] = "default for the listener (docs/config.md)"
		default:
			m["ratelimit."+k] = fmt.Sprint(int64(v))
		}
	}
	if len(rl.Overrides) > 0 {
		m["ratelimit.override"] = fmt.Sprintf("%d overrides", len(rl.Overrides))
	}
	m["ratelimit.backend"] = rl.Backend
	if a := cfg.Alert; a.Enabled {
		m["alert.action"] = a.Action
		m["alert.threshold"] = fmt.Sprintf("%dx baseline over %s (at least %d per user, %d per host)",
			a.Factor, a.Window, a.Factor*a.UserFloor, a.Factor*a.HostFloor)
	}
	return m
}
