package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/envelope"
	"postern/internal/maps"
	"postern/internal/smtp"
	"postern/internal/spool"
)

// dispatcher is the spool's Courier: it sends each recipient to local
// delivery, to an LMTP server, to another SMTP server or back with an
// error, as the local domains and the mailertable say.
//
// Rewriting of recipients (aliases, virtusertable) and of outbound senders
// (genericstable, masquerading) happens before this point, in routing:
// dispatcher only chooses the delivery agent for an already final address.
type dispatcher struct {
	local    spool.Courier
	anyLocal *deliver.Local // mailertable local: routes, for any domain
	remote   *deliver.Remote
	lmtp     *deliver.LMTPPool // idle LMTP connections, shared by every lmtp: route
	maps     *maps.Set         // nil without maps_dir
	isLocal  func(domain string) bool
	hostname string
	log      *slog.Logger
}

// newDispatcher builds the delivery agents from the configuration.
func newDispatcher(d *deps) (*dispatcher, error) {
	cfg := d.cfg
	r := cfg.Delivery.DeliveryRemote
	remote := &deliver.Remote{
		Hostname:               cfg.Hostname,
		Resolver:               d.resolver,
		Log:                    d.log,
		Port:                   r.RemotePort,
		ConnectTimeout:         r.ConnectTimeout,
		DestinationConcurrency: r.DestinationConcurrency,
		ConnectionReuse:        r.ConnectionReuse,
		ConnectionIdle:         r.ConnectionIdle,
		IsSelf:                 selfCheck(cfg, d.relay.OwnAddrs),
	}
	pol, err := tlsPolicies(cfg, d.maps)
	if err != nil {
		return nil, err
	}
	remote.TLSPolicy = pol
	if r.TLSCAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(r.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("delivery.tls_ca_file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("delivery.tls_ca_file %s: no PEM certificate", r.TLSCAFile)
		}
		remote.RootCAs = pool
	}
	if r.Smarthost != "" {
		h, err := deliver.ParseHop(r.Smarthost)
		if err != nil {
			return nil, fmt.Errorf("delivery.smarthost: %w", err)
		}
		remote.Smarthost = &h
		if r.SmarthostAuthFile != "" {
			u, p, err := config.ReadSmarthostAuth(r.SmarthostAuthFile)
			if err != nil {
				return nil, fmt.Errorf("delivery.smarthost_auth_file: %w", err)
			}
			remote.SmarthostAuth = &deliver.Credentials{User: u, Password: p}
		}
	}
	// LMTP servers get the same reuse and idle time as SMTP next hops.
	lmtp := &deliver.LMTPPool{MaxMessages: r.ConnectionReuse, Idle: r.ConnectionIdle}
	d.tasks = append(d.tasks, func(ctx context.Context) {
		<-ctx.Done()
		remote.Close()
		lmtp.Close()
	})
	return &dispatcher{
		local:    &deliver.Local{Mailbox: cfg.Delivery.Mailbox, IsLocal: d.relay.IsLocal, Log: d.log},
		anyLocal: &deliver.Local{Mailbox: cfg.Delivery.Mailbox, Log: d.log},
		remote:   remote,
		lmtp:     lmtp,
		maps:     d.maps,
		isLocal:  d.relay.IsLocal,
		hostname: cfg.Hostname,
		log:      d.log,
	}, nil
}

// batch is the recipients of one message that go the same way.
type batch struct {
	courier spool.Courier
	dest    *deliver.Destination // set: remote.DeliverTo(dest)
	idx     []int
	rcpts   []envelope.Recipient
}

// Deliver sends each recipient its way and collects one result per
// recipient, in order.
func (x *dispatcher) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := make([]error, len(rcpts))
	batches := map[string]*batch{}
	var order []string
	add := func(key string, b batch, i int, r envelope.Recipient) {
		cur := batches[key]
		if cur == nil {
			cur = &b
			batches[key] = cur
			order = append(order, key)
		}
		cur.idx = append(cur.idx, i)
		cur.rcpts = append(cur.rcpts, r)
	}
	var mt *maps.Mailertable
	if x.maps != nil {
		if m := x.maps.Maps(); m != nil {
			mt = m.Mailertable
		}
	}
	for i, r := range rcpts {
		domain := ""
		if at := strings.LastIndexByte(r.Addr, '@'); at >= 0 {
			domain = strings.ToLower(r.Addr[at+1:])
		}
		if domain == "" || x.isLocal(domain) {
			add("local", batch{courier: x.local}, i, r)
			continue
		}
		route, ok := mt.Lookup(domain)
		if ok && x.log != nil {
			x.log.DebugContext(ctx, "route", "id", env.ID, "rcpt", r.Addr, "rule", route.Rule())
		}
		if !ok {
			// No route of its own: MX lookup or the smarthost.
			add("remote", batch{courier: x.remote}, i, r)
			continue
		}
		switch {
		case route.Mailer == "error":
			errs[i] = routeError(route)
		case route.Mailer == "local":
			if route.User != "" {
				r.Addr = route.User + "@" + domain
			}
			add("local-any", batch{courier: x.anyLocal}, i, r)
		case route.Mailer == "lmtp":
			l := &deliver.LMTP{Network: "unix", Address: route.Socket, Hostname: x.hostname, Log: x.log, Pool: x.lmtp}
			if route.Socket == "" && len(route.Hops) > 0 {
				h := route.Hops[0]
				port := h.Port
				if port == 0 {
					port = 24 // RFC 2033 4: LMTP must not use port 25; 24 is customary
				}
				l.Network, l.Address = "tcp", net.JoinHostPort(h.Host, strconv.Itoa(port))
			}
			add("lmtp "+route.Value, batch{courier: l}, i, r)
		case route.IsSMTP():
			dest := &deliver.Destination{Domain: domain}
			for _, h := range route.Hops {
				dest.Hops = append(dest.Hops, deliver.Hop{Host: h.Host, Port: h.Port, NoMX: h.NoMX})
			}
			add("smtp "+route.Value+" "+domain, batch{dest: dest}, i, r)
		default:
			errs[i] = &smtp.Reply{Code: 451, Enhanced: "4.3.5", Text: "delivery route misconfigured",
				Err: fmt.Errorf("%s: mailer %q not supported", route.Rule(), route.Mailer)}
		}
	}
	// The ways are independent: they run side by side, each writing only
	// its own recipients' results.
	var wg sync.WaitGroup
	for _, key := range order {
		b := batches[key]
		run := func() {
			var res []error
			if b.dest != nil {
				res = x.remote.DeliverTo(ctx, *b.dest, env, b.rcpts, body)
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
		if len(order) == 1 {
			run()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A panic in a goroutine would end the server.
				if p := recover(); p != nil {
					if x.log != nil {
						x.log.Error("delivery panicked", "id", env.ID, "panic", p, "stack", string(debug.Stack()))
					}
					for _, i := range b.idx {
						errs[i] = fmt.Errorf("internal error in delivery: %v", p)
					}
				}
			}()
			run()
		}()
	}
	wg.Wait()
	return errs
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

// tlsPolicies returns the STARTTLS policy lookup: [[delivery.tls_destination]]
// by recipient domain (and ".parent"), then by server host name, then the
// access map's Try_TLS: entries (host name, address), then tls_policy.
func tlsPolicies(cfg *config.Config, m *maps.Set) (func(domain, host string, ip netip.Addr) deliver.TLSPolicy, error) {
	def, err := deliver.ParseTLSPolicy(cfg.Delivery.TLSPolicy)
	if err != nil {
		return nil, fmt.Errorf("delivery.tls_policy: %w", err)
	}
	table := map[string]deliver.TLSPolicy{}
	for _, t := range cfg.Delivery.TLSDestinations {
		p, err := deliver.ParseTLSPolicy(t.Policy)
		if err != nil {
			return nil, fmt.Errorf("delivery.tls_destination %s: %w", t.Destination, err)
		}
		table[t.Destination] = p
	}
	byName := func(name string) (deliver.TLSPolicy, bool) {
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		if name == "" {
			return 0, false
		}
		if p, ok := table[name]; ok {
			return p, true
		}
		for d := name; ; {
			_, parent, ok := strings.Cut(d, ".")
			if !ok || parent == "" {
				return 0, false
			}
			if p, ok := table["."+parent]; ok {
				return p, true
			}
			d = parent
		}
	}
	return func(domain, host string, ip netip.Addr) deliver.TLSPolicy {
		if p, ok := byName(domain); ok {
			return p
		}
		if p, ok := byName(host); ok {
			return p
		}
		if p, ok := table[ip.String()]; ok {
			return p
		}
		if m != nil {
			if mm := m.Maps(); mm != nil {
				if e, ok := mm.Access.TryTLS(host, ip); ok {
					switch e.TLS {
					case maps.TLSNever:
						return deliver.PolicyNever
					case maps.TLSMay:
						return deliver.PolicyMay
					case maps.TLSRequired:
						return deliver.PolicyRequired
					}
				}
			}
		}
		return def
	}, nil
}

// selfCheck reports whether an address and port is one of our listeners:
// a next hop there would send the mail back to us.
func selfCheck(cfg *config.Config, own []netip.Addr) func(netip.Addr, int) bool {
	type ap struct {
		ip   netip.Addr // invalid: every address of this host
		port int
	}
	var listeners []ap
	for _, l := range cfg.Listeners {
		host, port, err := net.SplitHostPort(l.Address)
		if err != nil {
			continue
		}
		p, _ := strconv.Atoi(port)
		a, _ := netip.ParseAddr(host)
		if host == "localhost" {
			listeners = append(listeners, ap{netip.MustParseAddr("127.0.0.1"), p}, ap{netip.IPv6Loopback(), p})
			continue
		}
		listeners = append(listeners, ap{a.Unmap(), p})
	}
	ownAddr := func(ip netip.Addr) bool {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return true
		}
		for _, o := range own {
			if o.Unmap() == ip {
				return true
			}
		}
		return false
	}
	return func(ip netip.Addr, port int) bool {
		ip = ip.Unmap()
		for _, l := range listeners {
			if l.port != port {
				continue
			}
			if l.ip.IsValid() && !l.ip.IsUnspecified() {
				if l.ip == ip {
					return true
				}
			} else if ownAddr(ip) {
				return true
			}
		}
		return false
	}
}
