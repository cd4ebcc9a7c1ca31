package limits

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"postern/internal/smtpd"
)

// ConsoleListener is the listener name the web console's logins count
// under, for [[ratelimit.override]] listeners.
const ConsoleListener = "console"

// consoleLimit is the failed-login limit for a console client. Unlike
// SMTP AUTH, trusted networks are not exempt: through an ssh tunnel every
// login comes from loopback.
func (l *Limits) consoleLimit(ip netip.Addr) int64 {
	w := who{listener: ConsoleListener, mode: smtpd.ModeSubmission, ip: ip}
	return l.limitFor(AuthFailuresPerIP, w, false)
}

// LoginLocked is asked before a console login's password is checked: it
// returns an error saying how long ip stays locked out when it is (the
// lock-out AUTH failures start too), or when the backend cannot tell,
// since a console login fails closed.
func (l *Limits) LoginLocked(ctx context.Context, ip netip.Addr) error {
	if l.consoleLimit(ip) < 0 {
		return nil
	}
	v, found, err := l.o.Backend.Get(ctx, "al:"+ipKey(ip))
	if err != nil {
		return fmt.Errorf("the rate-limit backend does not answer: %v", err)
	}
	if !found {
		return nil
	}
	left := time.Duration(0)
	if ms, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		left = time.Until(time.UnixMilli(ms))
	}
	return fmt.Errorf("too many failed logins from %s, try again %s", ip.Unmap(), wait(left))
}

// LoginFailed counts a failed console login from ip toward the same
// lock-out as failed AUTH, and starts the lock-out when the count reaches
// auth_failures_per_ip_per_hour. It returns the lock-out's error when ip
// is now locked out.
func (l *Limits) LoginFailed(ctx context.Context, ip netip.Addr, user string) error {
	max := l.consoleLimit(ip)
	if max < 0 {
		return nil
	}
	key := ipKey(ip)
	r, err := l.o.Backend.Hit(ctx, "af:"+key, 1, l.o.Window, -1)
	if err != nil {
		return fmt.Errorf("the rate-limit backend does not answer: %v", err)
	}
	if r.Count < l.inWindow(max) {
		return nil
	}
	until := time.Now().Add(l.o.AuthLockout)
	set, err := l.o.Backend.SetNX(ctx, "al:"+key, []byte(strconv.FormatInt(until.UnixMilli(), 10)), l.o.AuthLockout)
	if err != nil {
		return fmt.Errorf("the rate-limit backend does not answer: %v", err)
	}
	if set {
		l.o.Log.WarnContext(ctx, "auth lockout", "client", ip.Unmap().String(), "key", key, "failures", r.Count,
			"window", l.o.Window.String(), "for", l.o.AuthLockout.String(), "last_user", user, "via", ConsoleListener)
	}
	return fmt.Errorf("too many failed logins from %s, try again %s", ip.Unmap(), wait(l.o.AuthLockout))
}
