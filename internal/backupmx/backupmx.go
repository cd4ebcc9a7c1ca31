// Package backupmx is postern as a backup MX ([[backup_mx]]): which
// relay domains take only recipients that can be verified, and the
// recipient callout that asks the domain's primary MX about an address
// (connect, EHLO, MAIL FROM:<>, RCPT TO, RSET, QUIT), with a cache of
// its answers. The relay decision (policy's BackupMX interface) uses it;
// the mail itself goes to the primary by remote delivery, which skips
// the MX hosts at or below our own preference.
package backupmx

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Domain is one [[backup_mx]] table.
type Domain struct {
	Name    string // normalised domain name
	Callout bool   // verify by asking the primary; false: from the maps
	Cache   *Cache // the primary's answers kept; nil keeps none
}

// Resolver is the DNS a callout needs (dns.Resolver and net.Resolver
// meet it).
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Options are a Verifier's settings. Zero values mean the defaults in
// brackets.
type Options struct {
	Domains  []Domain
	Hostname string // ours: the EHLO name, and the MX name that is us
	Resolver Resolver
	// IsSelf reports whether an address and port is one of our own
	// listeners (route.SelfCheck); the callout never asks ourselves.
	IsSelf func(netip.Addr, int) bool
	Port   int           // the primaries' SMTP port [25]
	Limit  time.Duration // the whole callout of one recipient [30s]
	// Dial opens a connection; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// MaxCallouts bounds the callouts in progress at once: a flood of
// made-up recipients must not turn the backup into a flood on the
// primary. Beyond it a recipient not cached waits with 451.
const MaxCallouts = 16

// Verifier answers for the backup-MX domains.
type Verifier struct {
	opt     Options
	domains map[string]Domain
	slots   chan struct{} // one per callout in progress
}

// New makes a Verifier.
func New(opt Options) *Verifier {
	if opt.Port == 0 {
		opt.Port = 25
	}
	if opt.Limit <= 0 {
		opt.Limit = 30 * time.Second
	}
	if opt.Dial == nil {
		opt.Dial = (&net.Dialer{}).DialContext
	}
	if opt.Resolver == nil {
		opt.Resolver = net.DefaultResolver
	}
	v := &Verifier{opt: opt, domains: map[string]Domain{}, slots: make(chan struct{}, MaxCallouts)}
	for _, d := range opt.Domains {
		v.domains[strings.ToLower(d.Name)] = d
	}
	return v
}

// Match reports whether domain is a backup-MX domain, with the rule that
// says so and whether its recipients are verified by callout.
func (v *Verifier) Match(domain string) (rule string, callout bool, ok bool) {
	if v == nil {
		return "", false, false
	}
	d, ok := v.domains[strings.ToLower(domain)]
	if !ok {
		return "", false, false
	}
	how := "maps"
	if d.Callout {
		how = "callout"
	}
	return "backup_mx " + d.Name + " (verify = " + how + ")", d.Callout, true
}
