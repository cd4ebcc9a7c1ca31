package route

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"postern/internal/deliver"
	"postern/internal/envelope"
	"postern/internal/maps"
	"postern/internal/smtp"
)

// Dispatcher is the last courier before the delivery agents: it sends
// each recipient to local delivery, to an LMTP server, to another SMTP
// server or back with an error, as the local domains and the mailertable
// say.
//
// Rewriting of recipients (aliases, virtusertable) and of outbound
// senders (genericstable, masquerading) happens before this point
// (Courier, SenderRewriter): Dispatcher only chooses the delivery agent
// for an already final address.
type Dispatcher struct {
	Local    Inner // the local domains' mailboxes
	AnyLocal Inner // mailertable local: routes, for any domain
	Remote   *deliver.Remote
	// LMTP keeps idle LMTP connections, shared by every lmtp: route;
	// nil: none are kept.
	LMTP *deliver.LMTPPool
	// Maps returns the maps in force (the mailertable); nil: none.
	Maps func() *maps.Maps
	// IsLocal says which domains are delivered here.
	IsLocal  func(domain string) bool
	Hostname string // our name, for LMTP's LHLO
	Log      *slog.Logger
}

// batch is the recipients of one message that go the same way.
type batch struct {
	courier Inner
	dest    *deliver.Destination // set: Remote.DeliverTo(dest)
	idx     []int
	rcpts   []envelope.Recipient
}

// plan is the batches of one message, in the order of their first
// recipient.
type plan struct {
	batches map[string]*batch
	order   []string
}

func (p *plan) add(key string, b batch, i int, r envelope.Recipient) {
	cur := p.batches[key]
	if cur == nil {
		cur = &b
		p.batches[key] = cur
		p.order = append(p.order, key)
	}
	cur.idx = append(cur.idx, i)
	cur.rcpts = append(cur.rcpts, r)
}

// Deliver sends each recipient its way and collects one result per
// recipient, in order (the spool's Courier interface).
func (x *Dispatcher) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := make([]error, len(rcpts))
	p := &plan{batches: map[string]*batch{}}
	var mt *maps.Mailertable
	if x.Maps != nil {
		if m := x.Maps(); m != nil {
			mt = m.Mailertable
		}
	}
	for i, r := range rcpts {
		key, b, r, err := x.choose(ctx, env, mt, r)
		if err != nil {
			errs[i] = err
			continue
		}
		p.add(key, b, i, r)
	}
	x.run(ctx, env, p, body, errs)
	return errs
}

// choose finds the way of one recipient: the key of its batch, the
// batch's courier or destination, and the recipient as that courier
// takes it; or the error that is its result.
func (x *Dispatcher) choose(ctx context.Context, env *envelope.Envelope, mt *maps.Mailertable, r envelope.Recipient) (string, batch, envelope.Recipient, error) {
	domain := ""
	if at := strings.LastIndexByte(r.Addr, '@'); at >= 0 {
		domain = strings.ToLower(r.Addr[at+1:])
	}
	if domain == "" || x.IsLocal(domain) {
		return "local", batch{courier: x.Local}, r, nil
	}
	route, ok := mt.Lookup(domain)
	if !ok {
		// No route of its own: MX lookup or the smarthost.
		return "remote", batch{courier: x.Remote}, r, nil
	}
	if x.Log != nil {
		x.Log.DebugContext(ctx, "route", "id", env.ID, "rcpt", r.Addr, "rule", route.Rule())
	}
	switch {
	case route.Mailer == "error":
		return "", batch{}, r, routeError(route)
	case route.Mailer == "local":
		if route.User != "" {
			r.Addr = route.User + "@" + domain
		}
		return "local-any", batch{courier: x.AnyLocal}, r, nil
	case route.Mailer == "lmtp":
		return "lmtp " + route.Value, batch{courier: x.lmtp(route)}, r, nil
	case route.IsSMTP():
		dest := &deliver.Destination{Domain: domain}
		for _, h := range route.Hops {
			dest.Hops = append(dest.Hops, deliver.Hop{Host: h.Host, Port: h.Port, NoMX: h.NoMX})
		}
		return "smtp " + route.Value + " " + domain, batch{dest: dest}, r, nil
	}
	return "", batch{}, r, &smtp.Reply{Code: 451, Enhanced: "4.3.5", Text: "delivery route misconfigured",
		Err: fmt.Errorf("%s: mailer %q not supported", route.Rule(), route.Mailer)}
}

// lmtp is the LMTP client of an lmtp: route: a unix socket, or a host
// (port 24 by default).
func (x *Dispatcher) lmtp(route maps.Route) *deliver.LMTP {
	l := &deliver.LMTP{Network: "unix", Address: route.Socket, Hostname: x.Hostname, Log: x.Log, Pool: x.LMTP}
	if route.Socket == "" && len(route.Hops) > 0 {
		h := route.Hops[0]
		port := h.Port
		if port == 0 {
			port = 24 // RFC 2033 4: LMTP must not use port 25; 24 is customary
		}
		l.Network, l.Address = "tcp", net.JoinHostPort(h.Host, strconv.Itoa(port))
	}
	return l
}

// run delivers the batches. The ways are independent: they run side by
// side, each writing only its own recipients' results.
func (x *Dispatcher) run(ctx context.Context, env *envelope.Envelope, p *plan, body io.ReaderAt, errs []error) {
	if len(p.order) == 1 {
		x.runBatch(ctx, env, p.batches[p.order[0]], body, errs)
		return
	}
	var wg sync.WaitGroup
	for _, key := range p.order {
		b := p.batches[key]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A panic in a goroutine would end the server.
				if v := recover(); v != nil {
					if x.Log != nil {
						x.Log.Error("delivery panicked", "id", env.ID, "panic", v, "stack", string(debug.Stack()))
					}
					for _, i := range b.idx {
						errs[i] = fmt.Errorf("internal error in delivery: %v", v)
					}
				}
			}()
			x.runBatch(ctx, env, b, body, errs)
		}()
	}
	wg.Wait()
}

// runBatch delivers one batch and puts its results in place.
func (x *Dispatcher) runBatch(ctx context.Context, env *envelope.Envelope, b *batch, body io.ReaderAt, errs []error) {
	var res []error
	if b.dest != nil {
		res = x.Remote.DeliverTo(ctx, *b.dest, env, b.rcpts, body)
	} else {
		res = b.courier.Deliver(ctx, env, b.rcpts, body)
	}
	for k, i := range b.idx {
		if k < len(res) {
			errs[i] = res[k]
		} else {
			errs[i] = fmt.Errorf("courier returned %d results for %d recipients", len(res), len(b.idx))
		}
	}
}

// routeError turns a mailertable error: route into the reply.
func routeError(r maps.Route) error {
	code, enh := r.Code, r.Enhanced
	if code == 0 {
		code = 550
	}
	if enh == "" {
		enh = fmt.Sprintf("%d.0.0", code/100)
	}
	text := r.Text
	if text == "" {
		text = "delivery not possible"
	}
	return &smtp.Reply{Code: code, Enhanced: enh, Text: text, Err: fmt.Errorf("%s", r.Rule())}
}
