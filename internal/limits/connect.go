package limits

import (
	"context"
	"fmt"

	"postern/internal/inbound"
	"postern/internal/smtpd"
)

// connState is what CheckConnect took for a connection, to give back in
// Closed.
type connState struct {
	listener string
	counted  bool   // in the node's counters
	leaseKey string // per-address slot, or ""
}

type stateKey struct{}

// CheckConnect implements inbound.ConnectChecker: concurrent connections
// on this node and per client, new connections per client, and the
// lock-out after failed logins (on listeners that offer AUTH).
func (l *Limits) CheckConnect(ctx context.Context, c *inbound.Conn) *inbound.Verdict {
	st := &connState{listener: c.Listener}
	c.Values[stateKey{}] = st
	w := who{listener: c.Listener, mode: c.Mode, ip: c.IP()}
	ip := c.IP().Unmap().String()

	// The node's own connections never depend on the backend.
	n := l.total.Add(1)
	ln := l.listenerCount(c.Listener).Add(1)
	st.counted = true
	if max := l.limit(MaxConnections, who{mode: c.Mode}); max >= 0 && n > max {
		return l.refuse(MaxConnections, 421, "4.7.0", "too many connections to this server, try again later",
			fmt.Sprintf("%d connections open, limit %d", n-1, max))
	}
	if max := l.listenerLimit(c.Listener); max >= 0 && ln > max {
		return l.refuse(MaxConnections, 421, "4.7.0", "too many connections to this service, try again later",
			fmt.Sprintf("%d connections open on listener %s, limit %d", ln-1, c.Listener, max))
	}

	// A local submission (a unix socket) has no address to count per
	// client; its user is counted by the message limits instead.
	if !c.IP().IsValid() {
		return nil
	}
	if c.Mode != smtpd.ModeMTA {
		if v := l.checkLockout(ctx, c, 421); v != nil {
			return v
		}
	}

	key := ipKey(c.IP())
	if max := l.limit(MaxConnectionsPerIP, w); max >= 0 {
		r, err := l.leases.Acquire(ctx, "cc:"+key, l.o.Node+":"+c.ID, max)
		switch {
		case err != nil:
			if v := l.backendFailed(ctx, MaxConnectionsPerIP, 421, err); v != nil {
				return v
			}
		case !r.Allowed:
			return l.refuse(MaxConnectionsPerIP, 421, "4.7.0",
				fmt.Sprintf("too many simultaneous connections from %s, try again later", ip),
				fmt.Sprintf("%d connections open from %s, limit %d", r.Count, key, max))
		default:
			st.leaseKey = "cc:" + key
		}
	}

	if max := l.limit(ConnectionsPerIP, w); max >= 0 {
		r, err := l.o.Backend.Hit(ctx, "c:"+key, 1, l.o.Window, l.inWindow(max))
		switch {
		case err != nil:
			if v := l.backendFailed(ctx, ConnectionsPerIP, 421, err); v != nil {
				return v
			}
		case !r.Allowed:
			return l.refuse(ConnectionsPerIP, 421, "4.7.0",
				fmt.Sprintf("too many connections from %s (limit %d per hour), try again %s", ip, max, wait(r.Reset)),
				fmt.Sprintf("%d connections from %s in %s, limit %d", r.Count, key, l.o.Window, l.inWindow(max)))
		}
	}
	return nil
}

// listenerLimit is the max_connections an override sets for a listener
// (overrides naming only listeners), or -1.
func (l *Limits) listenerLimit(name string) int64 {
	v := int64(-1)
	for i := range l.o.Overrides {
		o := &l.o.Overrides[i]
		if o.MaxConnections != 0 && len(o.Networks) == 0 && len(o.Users) == 0 &&
			len(o.Listeners) > 0 && o.matches(who{listener: name}) {
			v = max(o.MaxConnections, -1)
		}
	}
	return v
}

// Closed implements inbound.CloseObserver: it gives back what the
// connection took.
func (l *Limits) Closed(c *inbound.Conn) {
	st, ok := c.Values[stateKey{}].(*connState)
	if !ok {
		return
	}
	delete(c.Values, stateKey{})
	if st.counted {
		l.total.Add(-1)
		l.listenerCount(st.listener).Add(-1)
	}
	if st.leaseKey != "" {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		if err := l.leases.Release(ctx, st.leaseKey, l.o.Node+":"+c.ID); err != nil {
			// The slot expires with its lease.
			l.o.Guard.Failed(ctx, "release", err)
		}
	}
}
