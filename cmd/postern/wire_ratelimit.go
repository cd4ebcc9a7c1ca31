package main

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"postern/internal/config"
	"postern/internal/limits"
	"postern/internal/sharedstate"
)

// rateBackend returns the [ratelimit] backend (sharedstate.Open, before
// the privilege drop), shared by the limits and greylisting so that
// nodes sharing a Redis or PostgreSQL share both.
func rateBackend(d *deps) (*sharedstate.Store, error) {
	if d.rate == nil {
		return nil, fmt.Errorf("ratelimit: no backend opened")
	}
	return d.rate, nil
}

// ratelimitStages builds the connection, login, message and outbound
// limits (first among the policy stages: a refused client costs nothing
// more).
func ratelimitStages(d *deps) ([]any, error) {
	s, err := rateBackend(d)
	if err != nil {
		return nil, err
	}
	rl := d.cfg.RateLimit
	host, _ := os.Hostname()
	opts := limits.Options{
		Backend:     s.Backend,
		Guard:       s.Guard,
		Log:         d.log,
		Base:        limitValues(rl.ConnectionsPerIPPerHour, rl.MaxConnections, rl.MaxConnectionsPerIP, rl.MessagesPerUserPerHour, rl.RecipientsPerUserPerHour, rl.AuthFailuresPerIPPerHour, rl.OutboundPerUserPerHour, rl.OutboundPerHostPerHour),
		Trusted:     d.cfg.Trusted,
		IsLocal:     d.relay.IsLocal,
		Window:      rl.Window,
		AuthLockout: rl.AuthLockout,
		Node:        fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()),
	}
	for _, o := range rl.Overrides {
		opts.Overrides = append(opts.Overrides, limits.Override{
			Listeners: o.Listeners, Networks: o.Networks, Users: o.Users,
			Values: limitValues(o.ConnectionsPerIPPerHour, o.MaxConnections, o.MaxConnectionsPerIP, o.MessagesPerUserPerHour, o.RecipientsPerUserPerHour, o.AuthFailuresPerIPPerHour, o.OutboundPerUserPerHour, o.OutboundPerHostPerHour),
		})
	}
	if d.maps != nil {
		// sendmail's access map: ClientRate: and ClientConn: entries.
		opts.Access = func(ip netip.Addr) (int, bool, int, bool) {
			a := d.maps.Maps().Access
			r, rok := a.ClientRate(ip)
			c, cok := a.ClientConn(ip)
			return r.Number, rok, c.Number, cok
		}
	}
	l := limits.New(opts)
	d.limits = l
	d.tasks = append(d.tasks, l.Leases().Run)
	return []any{l}, nil
}

func limitValues(conn, max, maxIP, msgs, rcpts, auth, outUser, outHost config.Limit) limits.Values {
	return limits.Values{
		ConnectionsPerIPPerHour: int64(conn), MaxConnections: int64(max), MaxConnectionsPerIP: int64(maxIP),
		MessagesPerUserPerHour: int64(msgs), RecipientsPerUserPerHour: int64(rcpts), AuthFailuresPerIPPerHour: int64(auth),
		OutboundPerUserPerHour: int64(outUser), OutboundPerHostPerHour: int64(outHost),
	}
}
