// Package status is the one screen of `postern status`: what the
// running server reports on its admin listener (or, when it does not
// answer, what the configuration and the queue directory tell), written
// for the operator; and the parts of that status the server itself
// serves (Static, QueueStats).
package status

import (
	"fmt"
	"strings"
	"time"

	"postern/internal/alert"
	"postern/internal/config"
	"postern/internal/metrics"
	"postern/internal/spool"
)

// QueueStats sums up the queue for metrics and status.
func QueueStats(items []spool.Item, now time.Time) metrics.QueueStats {
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

// Static is the part of /status that the configuration decides.
func Static(cfg *config.Config, started time.Time) metrics.Status {
	st := metrics.Status{Hostname: cfg.Hostname, Started: started, Limits: LimitsInForce(cfg)}
	for _, l := range cfg.Listeners {
		st.Listeners = append(st.Listeners, metrics.ListenerInfo{Name: l.Name, Address: l.Address, Mode: string(l.Mode)})
	}
	return st
}

// LimitsInForce lists the limits of the configuration, by config key.
func LimitsInForce(cfg *config.Config) map[string]string {
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
