package limits

import (
	"context"
	"fmt"
	"time"

	"postern/internal/inbound"
)

const hostKey = "oh"

// outboundUser is who a recipient leaving the host is counted against:
// the authenticated user, or "[address]" for a trusted client relaying
// without AUTH, or "" (the host counter only: mail relayed for
// relay_domains).
func (l *Limits) outboundUser(c *inbound.Conn) string {
	if c.AuthUser != "" {
		return userKey(c.AuthUser)
	}
	if l.o.Trusted(c.IP()) {
		return "[" + c.IP().Unmap().String() + "]"
	}
	return ""
}

// outbound counts one recipient leaving the host, refusing it when the
// user's or the host's outbound limit is reached.
func (l *Limits) outbound(ctx context.Context, c *inbound.Conn, w who) *inbound.Verdict {
	user := l.outboundUser(c)
	if user != "" {
		max := l.limit(OutboundPerUser, w)
		if user[0] == '[' && l.o.Trusted(c.IP()) && !l.explicit(OutboundPerUser, w) {
			// Trusted clients are counted, not limited, unless an
			// override sets their limit.
			max = -1
		}
		r, err := l.o.Backend.Hit(ctx, "o:"+user, 1, l.o.Window, l.inWindow(max))
		switch {
		case err != nil:
			if v := l.backendFailed(ctx, OutboundPerUser, 451, err); v != nil {
				return v
			}
		case !r.Allowed:
			return l.refuse(OutboundPerUser, 451, "4.7.1",
				fmt.Sprintf("outgoing mail limit reached for %s (%d recipients per hour), try again %s", user, max, wait(r.Reset)),
				fmt.Sprintf("%d outbound recipients from %s in %s, limit %d", r.Count, user, l.o.Window, l.inWindow(max)))
		}
	}
	max := l.limit(OutboundPerHost, w)
	r, err := l.o.Backend.Hit(ctx, hostKey, 1, l.o.Window, l.inWindow(max))
	switch {
	case err != nil:
		if v := l.backendFailed(ctx, OutboundPerHost, 451, err); v != nil {
			return v
		}
	case !r.Allowed:
		return l.refuse(OutboundPerHost, 451, "4.7.1",
			fmt.Sprintf("this server's outgoing mail limit is reached, try again %s", wait(r.Reset)),
			fmt.Sprintf("%d outbound recipients in %s, limit %d", r.Count, l.o.Window, l.inWindow(max)))
	}
	if l.o.OnOutbound != nil {
		l.o.OnOutbound(user, 1)
	}
	return nil
}

// explicit reports whether an override sets limit k for w.
func (l *Limits) explicit(k Kind, w who) bool {
	for i := range l.o.Overrides {
		o := &l.o.Overrides[i]
		if o.Values.array()[k] != 0 && o.matches(w) {
			return true
		}
	}
	return false
}

// OutboundRate is the number of recipients that user sent out of the
// host in the last window (an hour by default). user is an AUTH name, or
// "[address]" for a trusted client relaying without AUTH.
func (l *Limits) OutboundRate(ctx context.Context, user string) (int64, error) {
	r, err := l.o.Backend.Hit(ctx, "o:"+userKey(user), 0, l.o.Window, -1)
	return r.Count, err
}

// HostOutboundRate is the number of recipients sent out of the host in
// the last window, by every user and client.
func (l *Limits) HostOutboundRate(ctx context.Context) (int64, error) {
	r, err := l.o.Backend.Hit(ctx, hostKey, 0, l.o.Window, -1)
	return r.Count, err
}

// Window is the length of the rate windows.
func (l *Limits) Window() time.Duration { return l.o.Window }
