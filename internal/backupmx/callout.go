package backupmx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"postern/internal/smtp"
	"postern/internal/smtpclient"
)

// maxPrimaries bounds the addresses one callout tries.
const maxPrimaries = 5

// connectTimeout bounds the connection to one primary.
const connectTimeout = 10 * time.Second

// RFC 3463 3.5: X.4.1, no answer from host.
var replyNoAnswer = &smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "the primary mail server of this domain cannot verify the recipient now; try again later"}

// primary is one address of a more preferred MX host.
type primary struct {
	name string
	ip   netip.Addr
}

// Callout verifies addr, a recipient in a backup-MX domain: nil when the
// primary accepts it (now, or in a cached answer), the primary's refusal
// when it refuses it, 451 4.4.1 when no primary answers and nothing is
// cached. why says which, for the log and explain.
func (v *Verifier) Callout(addr string) (reply *smtp.Reply, why string) {
	domain := strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
	cache := v.domains[domain].Cache
	cached, ok, cerr := cache.Lookup(addr)
	switch {
	case ok && cached == nil:
		return nil, "the primary accepted " + addr + " (cached answer)"
	case ok:
		return cached, "the primary refused " + addr + " (cached answer): " + cached.Error()
	}
	reply, why = v.callout(domain, addr)
	if cerr == nil { // a 4xx is not kept
		cerr = cache.Store(addr, reply)
	}
	if cerr != nil {
		why += " (the shared callout cache: " + clean(cerr.Error()) + ")"
	}
	return reply, why
}

// callout asks the domain's primaries about addr, as Callout without
// the cache.
func (v *Verifier) callout(domain, addr string) (reply *smtp.Reply, why string) {
	select {
	case v.slots <- struct{}{}:
		defer func() { <-v.slots }()
	default:
		return replyNoAnswer, fmt.Sprintf("callout: %d callouts in progress already", MaxCallouts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), v.opt.Limit)
	defer cancel()
	hosts, err := v.primaries(ctx, domain)
	if err != nil {
		return replyNoAnswer, "callout: " + err.Error()
	}
	var fails []string
	for _, h := range hosts {
		rep, err := v.ask(ctx, h, addr)
		if err != nil {
			fails = append(fails, fmt.Sprintf("%s [%s]: %s", h.name, h.ip, clean(err.Error())))
			continue
		}
		ans, ok := Answer(rep)
		if !ok {
			fails = append(fails, fmt.Sprintf("%s [%s]: %s", h.name, h.ip, clean(rep.Error())))
			continue
		}
		if ans == nil {
			return nil, fmt.Sprintf("callout: the primary %s [%s] accepted %s", h.name, h.ip, addr)
		}
		return ans, fmt.Sprintf("callout: the primary %s [%s] refused %s: %s", h.name, h.ip, addr, ans.Error())
	}
	return replyNoAnswer, "callout: no primary answered: " + strings.Join(fails, "; ")
}

// Answer reads the primary's reply to RCPT: ok is false for anything but
// 2xx and 5xx (no answer yet); for 5xx, the reply given to our client,
// with the primary's code and text (cleaned and shortened) and 5.1.1
// when it gave no enhanced code.
func Answer(rep *smtp.Reply) (refusal *smtp.Reply, ok bool) {
	switch {
	case rep == nil || rep.Code < 200 || rep.Code >= 600:
		return nil, false
	case rep.Code < 300:
		return nil, true
	case !rep.Permanent():
		return nil, false
	}
	enh := rep.Enhanced
	if enh == "" || enh[0] != '5' {
		enh = "5.1.1"
	}
	text := clean(rep.Text)
	if text == "" {
		text = "recipient refused by the primary mail server"
	}
	return &smtp.Reply{Code: rep.Code, Enhanced: enh, Text: text}, true
}

// maxText bounds the primary's text passed on.
const maxText = 300

// clean keeps one line of printable ASCII of a peer's text, at most
// maxText long.
func clean(s string) string {
	var b strings.Builder
	for _, r := range strings.ReplaceAll(s, "\n", "; ") {
		if b.Len() >= maxText {
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// primaries are the addresses of the domain's MX hosts more preferred
// than we are (all of them when we are not one), without our own
// listeners, best first.
func (v *Verifier) primaries(ctx context.Context, domain string) ([]primary, error) {
	mx, err := v.opt.Resolver.LookupMX(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("MX %s: %w", domain, err)
	}
	self := -1
	for _, m := range mx {
		if strings.EqualFold(strings.TrimSuffix(m.Host, "."), v.opt.Hostname) && (self < 0 || int(m.Pref) < self) {
			self = int(m.Pref)
		}
	}
	mx = slices.DeleteFunc(slices.Clone(mx), func(m *net.MX) bool {
		return self >= 0 && int(m.Pref) >= self || strings.Trim(m.Host, ".") == ""
	})
	slices.SortStableFunc(mx, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	var out []primary
	for _, m := range mx {
		name := strings.ToLower(strings.TrimSuffix(m.Host, "."))
		addrs, err := v.opt.Resolver.LookupIPAddr(ctx, name)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok || v.opt.IsSelf != nil && v.opt.IsSelf(ip.Unmap(), v.opt.Port) || len(out) >= maxPrimaries {
				continue
			}
			out = append(out, primary{name: name, ip: ip.Unmap()})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no MX host more preferred than this one (%s) with an address", domain, v.opt.Hostname)
	}
	return out, nil
}

// ask runs the callout with one primary: its reply to RCPT, or an error
// when it gave none (connection, greeting, EHLO or MAIL refused).
func (v *Verifier) ask(ctx context.Context, h primary, addr string) (*smtp.Reply, error) {
	// A primary that drops the connection attempt must leave time to
	// try the next one.
	dctx, cancel := context.WithTimeout(ctx, min(connectTimeout, v.opt.Limit))
	defer cancel()
	conn, err := v.opt.Dial(dctx, "tcp", net.JoinHostPort(h.ip.String(), strconv.Itoa(v.opt.Port)))
	if err != nil {
		return nil, err
	}
	c := smtpclient.New(conn, smtpclient.Options{CommandTimeout: v.opt.Limit})
	defer c.Quit()
	if err := c.Greet(ctx); err != nil {
		return nil, err
	}
	if err := c.Hello(ctx, v.opt.Hostname); err != nil {
		return nil, err
	}
	rep, err := c.Verify(ctx, addr)
	var refused *smtp.Reply
	if errors.As(err, &refused) {
		return nil, fmt.Errorf("MAIL FROM:<> refused: %s", clean(refused.Error()))
	}
	return rep, err
}
