package deliver

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"postern/internal/dns"
	"postern/internal/envelope"
	"postern/internal/smtp"
)

// Remote delivers mail to other servers with SMTP: to the MX hosts of the
// recipient's domain, to the hosts a route names (mailertable) or to a
// smarthost. It is a spool.Courier and is safe for concurrent use; one
// Remote keeps the connection cache and the per-destination limits, so
// build it once.
type Remote struct {
	// Hostname is our name in EHLO; it is also how a loop is recognised
	// (a next hop that greets with our own name is ourselves).
	Hostname string
	Resolver dns.Resolver
	Log      *slog.Logger

	// Port is the SMTP port of next hops that do not name one [25].
	Port int
	// Smarthost, when set, receives all mail that has no route of its
	// own (sendmail's SMART_HOST): "[host]" means no MX lookup.
	Smarthost *Hop
	// SmarthostAuth, when set, is sent to the smarthost with AUTH, only
	// ever over TLS (TLS is then required with it).
	SmarthostAuth *Credentials
	// Direct, when set, names the domains whose mail goes to their own
	// MX hosts even with a smarthost: those we are a backup MX for,
	// whose mail must reach their primary.
	Direct func(domain string) bool

	// TLS gives the TLS policy of each server, and why; nil means
	// PolicyMay for everyone.
	TLS TLSRules
	// DNSSEC asks for MX records with their DNSSEC status (when Resolver
	// is a dns.DNSSECResolver), so that TLS can apply DANE.
	DNSSEC bool
	// RootCAs verify server certificates (PolicyVerify, MTA-STS); nil
	// means the system roots.
	RootCAs *x509.CertPool

	// ConnectTimeout bounds one TCP connection attempt [30s].
	ConnectTimeout time.Duration
	// CommandTimeout and DataTimeout bound the replies (see smtpclient).
	CommandTimeout time.Duration
	DataTimeout    time.Duration

	// DestinationConcurrency bounds the deliveries under way at once to
	// one destination (a domain, a route or the smarthost) [20, as
	// Postfix's default_destination_concurrency_limit].
	DestinationConcurrency int
	// DestinationRateDelay is the least time between two deliveries to
	// one destination (Postfix's default_destination_rate_delay); while
	// set, the concurrency is 1 [0: none].
	DestinationRateDelay time.Duration
	// DestinationRecipientLimit is the most recipients in one
	// transaction [50, as Postfix's default_destination_recipient_limit].
	DestinationRecipientLimit int
	// Destinations override the limits for single destinations, by the
	// recipient domain or, for a route or the smarthost, the next hop as
	// Hop.String writes it ("[mx.example.net]:2525"), in lower case.
	// Zero Concurrency and RecipientLimit take the defaults above.
	Destinations map[string]DestinationLimits
	// BackoffMin and BackoffMax bound how long a destination that fails
	// as a whole is left alone: BackoffMin at first, doubling at each
	// failure in a row [5m, 4h, as the queue's retries].
	BackoffMin, BackoffMax time.Duration
	// Now is the clock of pacing and back-off; nil means time.Now.
	Now func() time.Time
	// ConnectionReuse is how many messages one connection carries at most
	// before it is closed [100]; 1 turns the connection cache off.
	ConnectionReuse int
	// ConnectionIdle is how long an idle connection is kept for the next
	// message [2s, as Postfix's smtp_connection_cache_time_limit].
	ConnectionIdle time.Duration

	// IsSelf reports whether an address and port is one of our own
	// listeners (mail sent there would loop); nil means never.
	IsSelf func(ip netip.Addr, port int) bool

	// RewriteSender, when set, gives the reverse-path to send for an
	// envelope sender: the place for genericstable and masquerading of
	// outbound senders. nil sends env.From as it is.
	RewriteSender func(from string) string

	// Dial opens connections; nil means a net.Dialer with ConnectTimeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	once  sync.Once
	cache *connCache[target]
	pace  *pacer
}

// Hop is one next-hop server.
type Hop struct {
	Host string // host name, or an IP address
	Port int    // 0: Remote.Port
	NoMX bool   // "[host]": connect to the host itself, no MX lookup
}

// String renders the hop as sendmail writes it: "[host]:port" or "host".
func (h Hop) String() string {
	s := h.Host
	if h.NoMX {
		s = "[" + s + "]"
	}
	if h.Port != 0 {
		s += fmt.Sprintf(":%d", h.Port)
	}
	return s
}

// ParseHop reads "host", "host:port", "[host]" or "[host]:port".
func ParseHop(s string) (Hop, error) {
	var h Hop
	if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return h, fmt.Errorf("%q: spaces or control characters", s)
	}
	rest := s
	if strings.HasPrefix(rest, "[") {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return h, fmt.Errorf("%q: missing ']'", s)
		}
		h.Host, rest, h.NoMX = rest[1:j], rest[j+1:], true
		if rest != "" && rest[0] != ':' {
			return h, fmt.Errorf("%q: unexpected %q after ']'", s, rest)
		}
		rest = strings.TrimPrefix(rest, ":")
		if rest == "" && strings.HasSuffix(s, ":") {
			return h, fmt.Errorf("%q: missing port after ':'", s)
		}
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		h.Host, rest = rest[:i], rest[i+1:]
		if rest == "" {
			return h, fmt.Errorf("%q: missing port after ':'", s)
		}
	} else {
		h.Host, rest = rest, ""
	}
	if rest != "" {
		p := 0
		for _, c := range rest {
			if c < '0' || c > '9' || p > 65535 {
				return h, fmt.Errorf("%q: bad port %q", s, rest)
			}
			p = p*10 + int(c-'0')
		}
		if p < 1 || p > 65535 {
			return h, fmt.Errorf("%q: port %q out of range", s, rest)
		}
		h.Port = p
	}
	if a, err := netip.ParseAddr(strings.TrimPrefix(strings.TrimPrefix(h.Host, "IPv6:"), "ipv6:")); err == nil {
		if a.Zone() != "" {
			return h, fmt.Errorf("%q: zoned address", s)
		}
		h.Host, h.NoMX = a.Unmap().String(), true
		return h, nil
	}
	d, err := smtp.NormalizeDomain(h.Host)
	if err != nil {
		return h, fmt.Errorf("%q: %v", s, err)
	}
	h.Host = d
	return h, nil
}

// Credentials are what AUTH sends to a smarthost.
type Credentials struct {
	User     string
	Password string
}

// Destination says where a group of recipients goes.
type Destination struct {
	// Domain is the recipients' domain: MX lookup when Hops is empty,
	// and the key of the TLS policy.
	Domain string
	// Hops, when set, are tried in order instead of the domain's MX
	// hosts (a mailertable route or the smarthost).
	Hops []Hop
	// Auth is sent with AUTH over TLS (smarthost), or nil.
	Auth *Credentials
}

// key names the destination for concurrency limits and logs.
func (d Destination) key() string {
	if len(d.Hops) == 0 {
		return d.Domain
	}
	parts := make([]string, len(d.Hops))
	for i, h := range d.Hops {
		parts[i] = h.String()
	}
	return strings.Join(parts, ",")
}

func (r *Remote) init() {
	r.once.Do(func() {
		if r.Log == nil {
			r.Log = slog.New(slog.DiscardHandler)
		}
		if r.Port == 0 {
			r.Port = 25
		}
		if r.ConnectTimeout <= 0 {
			r.ConnectTimeout = 30 * time.Second
		}
		if r.DestinationConcurrency <= 0 {
			r.DestinationConcurrency = 20
		}
		if r.ConnectionReuse <= 0 {
			r.ConnectionReuse = 100
		}
		if r.ConnectionIdle <= 0 {
			r.ConnectionIdle = 2 * time.Second
		}
		if r.Resolver == nil {
			r.Resolver = net.DefaultResolver
		}
		if r.DestinationRecipientLimit <= 0 {
			r.DestinationRecipientLimit = 50
		}
		if r.BackoffMin <= 0 {
			r.BackoffMin = 5 * time.Minute
		}
		if r.BackoffMax <= 0 {
			r.BackoffMax = 4 * time.Hour
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		r.cache = newConnCache[target](r.ConnectionIdle)
		r.pace = newPacer(r.Now, r.Log, r.BackoffMin, r.BackoffMax)
	})
}

// BackedOff lists the destinations that are backed off now.
func (r *Remote) BackedOff() []BackedOff {
	r.init()
	return r.pace.backedOff()
}

// ResetBackoff ends every back-off (a queue flush: the admin wants the
// mail tried now) and says how many destinations were backed off.
func (r *Remote) ResetBackoff() int {
	r.init()
	return r.pace.reset()
}

// Close closes the cached idle connections.
func (r *Remote) Close() {
	r.init()
	r.cache.closeAll()
}

// Deliver sends the message to every recipient's domain: through the
// smarthost when one is set, else to the domain's MX hosts. Recipients of
// the same domain share one transaction.
func (r *Remote) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	r.init()
	errs := make([]error, len(rcpts))
	groups := map[string][]int{}
	var order []string
	for i, rc := range rcpts {
		dom := strings.ToLower(domainOf(rc.Addr))
		if dom == "" {
			errs[i] = &smtp.Reply{Code: 550, Enhanced: "5.1.3", Text: "recipient address has no domain"}
			continue
		}
		key := dom
		if r.Smarthost != nil && (r.Direct == nil || !r.Direct(dom)) {
			key = "" // one transaction through the smarthost
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], i)
	}
	// Destinations are served side by side (a slow domain must not hold
	// up the others of the same message), a few at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelDestinations)
	for _, key := range order {
		idx := groups[key]
		dest := Destination{Domain: key}
		if key == "" {
			dest = Destination{Hops: []Hop{*r.Smarthost}, Auth: r.SmarthostAuth}
		}
		sub := make([]envelope.Recipient, len(idx))
		for k, i := range idx {
			sub[k] = rcpts[i]
		}
		if len(order) == 1 {
			copyResults(errs, idx, r.DeliverTo(ctx, dest, env, sub, body))
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				// A panic here would end the server: make it a
				// temporary failure of these recipients instead.
				if p := recover(); p != nil {
					r.Log.Error("delivery panicked", "id", env.ID, "panic", p)
					for _, i := range idx {
						errs[i] = fmt.Errorf("internal error in delivery: %v", p)
					}
				}
			}()
			// Each goroutine writes only its own recipients' results.
			copyResults(errs, idx, r.DeliverTo(ctx, dest, env, sub, body))
		}()
	}
	wg.Wait()
	return errs
}

// maxParallelDestinations bounds the destinations of one message served
// at once.
const maxParallelDestinations = 8

func copyResults(errs []error, idx []int, res []error) {
	for k, i := range idx {
		errs[i] = res[k]
	}
}

func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return addr[at+1:]
}
