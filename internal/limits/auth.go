package limits

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"postern/internal/inbound"
)

// releaseTimeout bounds giving back a slot when a connection ends.
const releaseTimeout = 2 * time.Second

// CheckAuth implements inbound.AuthChecker: a locked-out client is
// refused before its credentials are checked; each failure is counted,
// and the one that reaches auth_failures_per_ip_per_hour starts a
// lock-out of auth_lockout.
func (l *Limits) CheckAuth(ctx context.Context, c *inbound.Conn, user string, verified, ok bool) *inbound.Verdict {
	if !verified {
		// RFC 4954 6: 454 4.7.0 is the temporary authentication failure.
		return l.checkLockout(ctx, c, 454)
	}
	if ok {
		return nil
	}
	w := who{listener: c.Listener, mode: c.Mode, ip: c.IP()}
	max := l.limit(AuthFailuresPerIP, w)
	if max < 0 {
		return nil
	}
	key := ipKey(c.IP())
	r, err := l.o.Backend.Hit(ctx, "af:"+key, 1, l.o.Window, -1)
	if err != nil {
		return l.backendFailed(ctx, AuthFailuresPerIP, 454, err)
	}
	if r.Count < l.inWindow(max) {
		return nil
	}
	until := time.Now().Add(l.o.AuthLockout)
	set, err := l.o.Backend.SetNX(ctx, "al:"+key, []byte(strconv.FormatInt(until.UnixMilli(), 10)), l.o.AuthLockout)
	if err != nil {
		return l.backendFailed(ctx, AuthFailuresPerIP, 454, err)
	}
	if set {
		l.o.Log.WarnContext(ctx, "auth lockout", "client", c.IP().Unmap().String(), "key", key,
			"failures", r.Count, "window", l.o.Window.String(), "for", l.o.AuthLockout.String(), "last_user", user)
	}
	return l.lockedOut(c, 454, l.o.AuthLockout, r.Count)
}

// checkLockout refuses a client under lock-out with code.
func (l *Limits) checkLockout(ctx context.Context, c *inbound.Conn, code int) *inbound.Verdict {
	w := who{listener: c.Listener, mode: c.Mode, ip: c.IP()}
	if l.limit(AuthFailuresPerIP, w) < 0 {
		return nil
	}
	v, found, err := l.o.Backend.Get(ctx, "al:"+ipKey(c.IP()))
	if err != nil {
		return l.backendFailed(ctx, AuthFailuresPerIP, code, err)
	}
	if !found {
		return nil
	}
	left := time.Duration(0)
	if ms, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		left = time.Until(time.UnixMilli(ms))
	}
	return l.lockedOut(c, code, left, -1)
}

func (l *Limits) lockedOut(c *inbound.Conn, code int, left time.Duration, failures int64) *inbound.Verdict {
	rule := fmt.Sprintf("%s locked out for %s after failed logins", ipKey(c.IP()), left.Round(time.Second))
	if failures >= 0 {
		rule = fmt.Sprintf("%d failed logins from %s: locked out for %s", failures, ipKey(c.IP()), left.Round(time.Second))
	}
	v := l.refuse(AuthFailuresPerIP, code, "4.7.0",
		fmt.Sprintf("too many failed logins from %s, try again %s", c.IP().Unmap(), wait(left)), rule)
	return v
}
