// Package greylist answers the first attempt of an unknown (client
// network, sender, recipient) triplet with a temporary failure: real MTAs
// retry after a while, much bulk spam software never does. Clients that
// retried properly several times are let through directly from then on.
package greylist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// Defaults, as postgrey's.
const (
	DefaultDelay          = 5 * time.Minute
	DefaultRetryWindow    = 48 * time.Hour
	DefaultExpire         = 35 * 24 * time.Hour
	DefaultAutoAllowAfter = 5
)

// Greylist is an inbound RCPT checker.
type Greylist struct {
	Store Store
	// Delay is how long a sender must wait before its retry is accepted.
	Delay time.Duration
	// RetryWindow is how long a first attempt is remembered, waiting for
	// its retry; later, the triplet starts over.
	RetryWindow time.Duration
	// Expire is how long a triplet that passed, and a client allowed
	// automatically, are remembered after their last use.
	Expire time.Duration
	// AutoAllowAfter lets a client network through without greylisting
	// once that many of its triplets passed; 0 means never.
	AutoAllowAfter int
	Listeners      map[string]bool // listener names the check runs on
	Exempt         func(c *inbound.Conn) bool
	Log            *slog.Logger
	Now            func() time.Time // nil means time.Now
}

// passed marks a triplet whose retry was accepted.
var passed = []byte("ok")

func (g *Greylist) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// ClientNet is the part of the client address greylisting remembers: the
// /24 for IPv4 and the /64 for IPv6, since big senders retry from another
// host of the same pool.
func ClientNet(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 24
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// TripletKey is the store key of one triplet (hashed: addresses may be
// long and hold any character).
func TripletKey(n netip.Prefix, from, rcpt string) string {
	h := sha256.Sum256([]byte(n.String() + "\x00" + strings.ToLower(from) + "\x00" + strings.ToLower(rcpt)))
	return "grey:t:" + hex.EncodeToString(h[:16])
}

func clientKey(n netip.Prefix) string { return "grey:c:" + n.String() }
func countKey(n netip.Prefix) string  { return "grey:n:" + n.String() }

// CheckRcpt implements inbound.RcptChecker.
func (g *Greylist) CheckRcpt(ctx context.Context, t *inbound.Txn, to smtp.Path, _ *envelope.Recipient) *inbound.Verdict {
	c := t.Conn
	if !g.Listeners[c.Listener] || c.AuthUser != "" || g.Exempt != nil && g.Exempt(c) {
		return nil
	}
	v, err := g.check(ctx, c.IP(), t.Env.From, to.String())
	if err != nil {
		// The store is down: let the mail in rather than defer it all.
		if g.Log != nil {
			g.Log.WarnContext(ctx, "greylist store failed", "conn", c.ID, "err", err)
		}
		return nil
	}
	return v
}

func (g *Greylist) check(ctx context.Context, ip netip.Addr, from, rcpt string) (*inbound.Verdict, error) {
	n := ClientNet(ip)
	if ok, err := g.Store.Touch(ctx, clientKey(n), g.Expire); err != nil || ok {
		return nil, err
	}
	key := TripletKey(n, from, rcpt)
	now := g.now()
	val, ok, err := g.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		stamp := []byte(strconv.FormatInt(now.UnixMilli(), 10))
		if _, err := g.Store.SetNX(ctx, key, stamp, g.RetryWindow); err != nil {
			return nil, err
		}
		return g.defer_(ip, from, rcpt, "first attempt", g.Delay), nil
	}
	if string(val) == string(passed) {
		_, err := g.Store.Touch(ctx, key, g.Expire)
		return nil, err
	}
	first, perr := strconv.ParseInt(string(val), 10, 64)
	if perr != nil {
		// Not ours (another version wrote it): start over.
		return nil, g.Store.Set(ctx, key, []byte(strconv.FormatInt(now.UnixMilli(), 10)), g.RetryWindow)
	}
	if wait := time.UnixMilli(first).Add(g.Delay).Sub(now); wait > 0 {
		return g.defer_(ip, from, rcpt, "retried too early", wait), nil
	}
	if err := g.Store.Set(ctx, key, passed, g.Expire); err != nil {
		return nil, err
	}
	return nil, g.countPass(ctx, n)
}

// countPass counts a passed triplet for the client network and allows
// the network once it has enough. The count is read and written back,
// not incremented atomically: two nodes passing at the same moment may
// count one pass, which only delays the auto-allow by one message.
func (g *Greylist) countPass(ctx context.Context, n netip.Prefix) error {
	if g.AutoAllowAfter <= 0 {
		return nil
	}
	cnt := 0
	if v, ok, err := g.Store.Get(ctx, countKey(n)); err != nil {
		return err
	} else if ok {
		cnt, _ = strconv.Atoi(string(v))
	}
	cnt++
	if cnt >= g.AutoAllowAfter {
		if g.Log != nil {
			g.Log.Info("greylist auto-allow", "client_net", n.String(), "passes", cnt)
		}
		return g.Store.Set(ctx, clientKey(n), []byte("1"), g.Expire)
	}
	return g.Store.Set(ctx, countKey(n), []byte(strconv.Itoa(cnt)), g.Expire)
}

func (g *Greylist) defer_(ip netip.Addr, from, rcpt, why string, wait time.Duration) *inbound.Verdict {
	secs := int(wait.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &inbound.Verdict{
		Rule: fmt.Sprintf("greylisted (%s): %s, <%s>, <%s>", why, ClientNet(ip), from, rcpt),
		Reply: &smtp.Reply{Code: 451, Enhanced: "4.7.1",
			Text: fmt.Sprintf("greylisted, please try again in %d seconds", secs)},
	}
}
