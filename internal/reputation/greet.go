package reputation

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"postern/internal/inbound"
)

// EarlyTalker holds the greeting back for a moment (sendmail's
// greet_pause, Postfix postscreen's greet wait): a client that talks
// before the greeting breaks RFC 5321 4.3.1 and is refused by smtpd. A
// client that waited is remembered for a while and not paused again.
type EarlyTalker struct {
	Pause    map[string]time.Duration // by listener name; absent or 0: no pause
	Remember time.Duration            // how long a client that waited skips the pause
	Exempt   Exempt
	Log      *slog.Logger
	// MaxRemembered bounds the memory; 0 means 100000 clients.
	MaxRemembered int
	Now           func() time.Time // nil means time.Now

	mu     sync.Mutex
	passed map[netip.Prefix]time.Time // client network -> until
}

type greetKey struct{}

// clientNet is the unit a client is known by: its address, or its /64
// for IPv6 (one host usually holds a whole /64).
func clientNet(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.Prefix(64)
	return p
}

func (e *EarlyTalker) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// CheckConnect implements inbound.ConnectChecker.
func (e *EarlyTalker) CheckConnect(ctx context.Context, c *inbound.Conn) *inbound.Verdict {
	d := e.Pause[c.Listener]
	if d <= 0 || e.Exempt.Addr(c.IP()) || e.remembered(c.IP()) {
		return nil
	}
	c.GreetPause = d
	c.Values[greetKey{}] = true
	return nil
}

// CheckHelo implements inbound.HeloChecker: a client that got this far
// waited for the greeting.
func (e *EarlyTalker) CheckHelo(ctx context.Context, c *inbound.Conn) *inbound.Verdict {
	if c.Values[greetKey{}] == true {
		delete(c.Values, greetKey{})
		e.remember(c.IP())
	}
	return nil
}

func (e *EarlyTalker) remembered(ip netip.Addr) bool {
	if e.Remember <= 0 {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	until, ok := e.passed[clientNet(ip)]
	return ok && e.now().Before(until)
}

func (e *EarlyTalker) remember(ip netip.Addr) {
	if e.Remember <= 0 {
		return
	}
	max := e.MaxRemembered
	if max <= 0 {
		max = 100000
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.passed == nil {
		e.passed = map[netip.Prefix]time.Time{}
	}
	if len(e.passed) >= max {
		for k, until := range e.passed {
			if !now.Before(until) {
				delete(e.passed, k)
			}
		}
		// Still full: forget at random (map order) rather than grow.
		for k := range e.passed {
			if len(e.passed) < max {
				break
			}
			delete(e.passed, k)
		}
	}
	e.passed[clientNet(ip)] = now.Add(e.Remember)
}
