package limits

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"time"

	"postern/internal/smtpd"
)

// who is what a limit is resolved for.
type who struct {
	listener string
	mode     smtpd.Mode
	ip       netip.Addr
	user     string // authenticated user, lower case, or ""
}

// limit returns the limit of kind k for w (-1: none): the built-in
// default of the mode, then [ratelimit], then the matching overrides in
// order, then the access map. Trusted clients are exempt from per-address
// limits that were not set for them by an override or the access map.
func (l *Limits) limit(k Kind, w who) int64 { return l.limitFor(k, w, true) }

// limitFor is limit; exemptTrusted false leaves trusted clients under the
// per-address limits too.
func (l *Limits) limitFor(k Kind, w who, exemptTrusted bool) int64 {
	v := defaults(w.mode).array()[k]
	if b := l.o.Base.array()[k]; b != 0 {
		v = b
	}
	explicit := false
	for i := range l.o.Overrides {
		o := &l.o.Overrides[i]
		if x := o.Values.array()[k]; x != 0 && o.matches(w) {
			v, explicit = x, true
		}
	}
	if l.o.Access != nil && (k == ConnectionsPerIP || k == MaxConnectionsPerIP) {
		rate, rateOK, conn, connOK := l.o.Access(w.ip)
		switch {
		case k == ConnectionsPerIP && rateOK:
			// sendmail's ClientRate counts per minute
			// (confCONNECTION_RATE_WINDOW_SIZE, 60 s); 0 is unlimited.
			v, explicit = int64(rate)*60, true
			if rate <= 0 {
				v = -1
			}
		case k == MaxConnectionsPerIP && connOK:
			v, explicit = int64(conn), true
			if conn <= 0 {
				v = -1
			}
		}
	}
	if exemptTrusted && k.perIP() && !explicit && l.o.Trusted(w.ip) {
		return -1
	}
	if v < 0 {
		return -1
	}
	return v
}

// inWindow scales an hourly limit to the window: ceil(n * window / 1h),
// at least 1.
func (l *Limits) inWindow(n int64) int64 {
	if n <= 0 || l.o.Window == time.Hour {
		return n
	}
	w := int64(l.o.Window / time.Millisecond)
	h := int64(time.Hour / time.Millisecond)
	if n > (1<<62)/max(w, 1) {
		return n / h * w
	}
	return max((n*w+h-1)/h, 1)
}

func (o *Override) matches(w who) bool {
	if len(o.Listeners) > 0 && !slices.Contains(o.Listeners, w.listener) {
		return false
	}
	if len(o.Users) > 0 && (w.user == "" || !slices.Contains(o.Users, w.user)) {
		return false
	}
	if len(o.Networks) > 0 {
		ip := w.ip.Unmap()
		if !slices.ContainsFunc(o.Networks, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			return false
		}
	}
	return true
}

// ipKey names a client for per-address limits: the address, or its /64
// for IPv6 (one host usually has a whole /64).
func ipKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func userKey(u string) string { return strings.ToLower(u) }

func randomNode() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// InForce returns the limits of a listener for a client that no override
// or access entry names (by configuration key; -1 is unlimited), for
// `postern status`. Hourly limits are per hour, before scaling to Window.
func (l *Limits) InForce(listener string, mode smtpd.Mode) map[string]int64 {
	m := make(map[string]int64, numKinds)
	// An address no override can match: the unspecified address.
	w := who{listener: listener, mode: mode, ip: netip.IPv6Unspecified()}
	for k := Kind(0); k < numKinds; k++ {
		v := l.limit(k, w)
		if k == MaxConnections {
			if lv := l.listenerLimit(listener); lv >= 0 && (v < 0 || lv < v) {
				v = lv
			}
		}
		m[k.String()] = v
	}
	return m
}
