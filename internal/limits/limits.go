// Package limits holds the rate and concurrency limits of postern as
// inbound checkers: connections per client per hour, concurrent
// connections (in total and per client), failed logins per client (with a
// lock-out), messages and recipients per user per hour, and the outbound
// rate per user and for the whole host. Counters live in a
// ratelimit.Backend, so that several nodes sharing Redis share one limit.
//
// Every refusal is a 4xx reply with a text that says which limit and when
// to come back; none is a silent drop.
package limits

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"postern/internal/ratelimit"
	"postern/internal/smtpd"
)

// Values are the limits of one scope. In each field 0 means "not set
// here" (the next scope or the built-in default decides) and -1 means
// unlimited. The *PerHour fields count over Options.Window, scaled.
type Values struct {
	ConnectionsPerIPPerHour  int64 // new connections per client address (IPv6: per /64)
	MaxConnections           int64 // concurrent connections on this node
	MaxConnectionsPerIP      int64 // concurrent connections per client address (IPv6: per /64)
	MessagesPerUserPerHour   int64 // MAIL FROM per authenticated user
	RecipientsPerUserPerHour int64 // RCPT TO per authenticated user
	AuthFailuresPerIPPerHour int64 // failed AUTH per client before a lock-out
	OutboundPerUserPerHour   int64 // recipients leaving the host, per user
	OutboundPerHostPerHour   int64 // recipients leaving the host, all users
}

// Kind names one limit.
type Kind int

// The limits.
const (
	ConnectionsPerIP Kind = iota
	MaxConnections
	MaxConnectionsPerIP
	MessagesPerUser
	RecipientsPerUser
	AuthFailuresPerIP
	OutboundPerUser
	OutboundPerHost
	numKinds
)

// kindNames are the configuration keys.
var kindNames = [numKinds]string{
	"connections_per_ip_per_hour", "max_connections", "max_connections_per_ip",
	"messages_per_user_per_hour", "recipients_per_user_per_hour", "auth_failures_per_ip_per_hour",
	"outbound_per_user_per_hour", "outbound_per_host_per_hour",
}

func (k Kind) String() string { return kindNames[k] }

// hourly reports whether the limit counts over the rate window (the
// others count concurrent connections).
func (k Kind) hourly() bool { return k != MaxConnections && k != MaxConnectionsPerIP }

// perIP reports whether the limit is per client address (trusted
// networks are exempt unless a limit is set for them explicitly).
func (k Kind) perIP() bool {
	return k == ConnectionsPerIP || k == MaxConnectionsPerIP || k == AuthFailuresPerIP
}

func (v Values) array() [numKinds]int64 {
	return [numKinds]int64{v.ConnectionsPerIPPerHour, v.MaxConnections, v.MaxConnectionsPerIP,
		v.MessagesPerUserPerHour, v.RecipientsPerUserPerHour, v.AuthFailuresPerIPPerHour,
		v.OutboundPerUserPerHour, v.OutboundPerHostPerHour}
}

// Built-in defaults (see docs/limits.md for the reasons).
var (
	// DefaultMTA is for listeners that take mail from other servers.
	DefaultMTA = Values{
		// A big provider sends from few addresses: 600 an hour (10 a
		// minute on average) lets a busy sender in and stops a flood.
		ConnectionsPerIPPerHour: 600,
		// Each idle connection costs some 20 KiB; 2,000 fit a small VM.
		MaxConnections: 2000,
		// Postfix opens at most 20 connections to one destination
		// (default_destination_concurrency_limit).
		MaxConnectionsPerIP:      20,
		MessagesPerUserPerHour:   300,
		RecipientsPerUserPerHour: 1000,
		AuthFailuresPerIPPerHour: 10,
		OutboundPerUserPerHour:   1000,
		OutboundPerHostPerHour:   -1,
	}
	// DefaultSubmission is for submission and smtps listeners.
	DefaultSubmission = Values{
		// A mail client connects once per message or check; 300 an hour
		// fits an office behind one NAT address.
		ConnectionsPerIPPerHour:  300,
		MaxConnections:           2000,
		MaxConnectionsPerIP:      20,
		MessagesPerUserPerHour:   300,
		RecipientsPerUserPerHour: 1000,
		AuthFailuresPerIPPerHour: 10,
		OutboundPerUserPerHour:   1000,
		OutboundPerHostPerHour:   -1,
	}
)

// Defaults of the other settings.
const (
	DefaultWindow      = time.Hour
	DefaultAuthLockout = 30 * time.Minute
)

// Override changes limits for the connections it matches: every
// non-empty list must match (a listener name, a network holding the
// client, an authenticated user, case-insensitively); an override with
// users never matches before AUTH. Later overrides win over earlier ones.
type Override struct {
	Listeners []string
	Networks  []netip.Prefix
	Users     []string
	Values
}

// ClientAccess returns sendmail access-map entries for a client:
// ClientRate (connections per minute, 0 unlimited) and ClientConn
// (concurrent connections, 0 unlimited).
type ClientAccess func(ip netip.Addr) (rate int, rateOK bool, conn int, connOK bool)

// Options configure the limits.
type Options struct {
	Backend ratelimit.Backend
	// Guard applies on_backend_error; nil means fail open, unlogged.
	Guard *ratelimit.Guard
	Log   *slog.Logger
	// Base are the [ratelimit] settings; 0 fields take the default of
	// the listener's mode.
	Base      Values
	Overrides []Override
	// Access gives access-map ClientRate/ClientConn entries; they win
	// over everything else for the clients they match. nil means none.
	Access ClientAccess
	// Trusted reports whether a client is in trusted_networks: such
	// clients are exempt from the per-address limits unless an override
	// or access entry names them.
	Trusted func(netip.Addr) bool
	// IsLocal reports whether a domain is delivered here; recipients in
	// other domains count as outbound. nil: every recipient is outbound.
	IsLocal func(domain string) bool
	// OnOutbound, when set, is told of every recipient counted as
	// outbound (user is "" for mail not tied to a user).
	OnOutbound func(user string, n int64)
	// Window is the length of the *PerHour windows; the limits scale
	// with it (0 means an hour).
	Window time.Duration
	// AuthLockout is how long a client stays locked out after too many
	// failed logins (0 means 30 minutes).
	AuthLockout time.Duration
	// LeaseTTL is how long a concurrency slot of a dead node stays taken
	// (0 means ratelimit.DefaultLeaseTTL).
	LeaseTTL time.Duration
	// Node names this process in lease holders; "" means a random name.
	Node string
}

// Limits is the set of checkers; one value serves every session.
type Limits struct {
	o      Options
	leases *ratelimit.Leases

	total      atomic.Int64
	byListener sync.Map // listener name -> *atomic.Int64
	refusals   [numKinds + 1]atomic.Uint64
}

// New returns the limits. Run its Leases renewal as a background task
// (RunLeases).
func New(o Options) *Limits {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Guard == nil {
		o.Guard = &ratelimit.Guard{FailOpen: true}
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.AuthLockout <= 0 {
		o.AuthLockout = DefaultAuthLockout
	}
	if o.Trusted == nil {
		o.Trusted = func(netip.Addr) bool { return false }
	}
	if o.Node == "" {
		o.Node = randomNode()
	}
	for i := range o.Overrides {
		for j, u := range o.Overrides[i].Users {
			o.Overrides[i].Users[j] = strings.ToLower(u)
		}
	}
	return &Limits{o: o, leases: ratelimit.NewLeases(o.Backend, o.LeaseTTL, o.Log)}
}

// Leases is the tracker of this node's concurrency slots; run its Run
// method in the background while serving.
func (l *Limits) Leases() *ratelimit.Leases { return l.leases }

// Refusals counts the refusals per limit (by configuration key) and the
// refusals caused by backend errors ("backend_error"), for metrics.
func (l *Limits) Refusals() map[string]uint64 {
	m := make(map[string]uint64, numKinds+1)
	for k := Kind(0); k < numKinds; k++ {
		m[k.String()] = l.refusals[k].Load()
	}
	m["backend_error"] = l.refusals[numKinds].Load()
	return m
}

// BackendErrors is the number of backend errors (fail open or closed).
func (l *Limits) BackendErrors() uint64 { return l.o.Guard.Errors() }

// Connections returns the connections open on this node.
func (l *Limits) Connections() int64 { return l.total.Load() }

func (l *Limits) listenerCount(name string) *atomic.Int64 {
	if c, ok := l.byListener.Load(name); ok {
		return c.(*atomic.Int64)
	}
	c, _ := l.byListener.LoadOrStore(name, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// mode defaults.
func defaults(m smtpd.Mode) Values {
	if m == smtpd.ModeMTA {
		return DefaultMTA
	}
	return DefaultSubmission
}
