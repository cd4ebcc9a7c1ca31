// Package policy makes postern's decisions, one per SMTP stage, each with
// the rule that made it so that `postern explain` and the log can say why.
package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"postern/internal/maps"
	"postern/internal/smtp"
)

// Class says where an accepted recipient goes.
type Class int

const (
	// Local recipients are delivered to a mailbox on this host.
	Local Class = iota + 1
	// RelayDomain recipients are in a domain we accept mail for and
	// forward (backup MX, relay_domains).
	RelayDomain
	// Outbound recipients are anywhere else; only trusted or
	// authenticated clients may send to them.
	Outbound
	// Forward recipients were addressed to a local domain and are sent on
	// elsewhere (a virtusertable entry or luser_relay pointing away).
	Forward
)

func (c Class) String() string {
	switch c {
	case Local:
		return "local"
	case RelayDomain:
		return "relay-domain"
	case Outbound:
		return "outbound"
	case Forward:
		return "forward"
	}
	return "none"
}

// Domains answers whether a domain is in a set, naming the entry that
// matched (for explanations).
type Domains interface {
	Match(domain string) (rule string, ok bool)
}

// Users says whether a local address has a mailbox.
type Users interface {
	Exists(addr string) bool
}

// UsersUnavailable is met by Users that can be unknown for a while (a
// users table not read for longer than its stale period): UnavailableText
// says why, or "". A decision that needs a user then waits (451).
type UsersUnavailable interface {
	UnavailableText() string
}

// Relay decides, for each RCPT, whether postern takes the recipient. The
// decision depends only on the recipient's final domain, the client's
// address and whether it authenticated: never on MAIL FROM, HELO, reverse
// DNS or the local part (except to know whether a local user exists).
type Relay struct {
	Hostname   string         // always a local domain, like sendmail's class w
	Local      []Domains      // local domains (local_domains, local-host-names)
	Relay      []Domains      // domains accepted and forwarded (relay_domains, relay-domains)
	Trusted    []netip.Prefix // clients that may relay without AUTH
	OwnAddrs   []netip.Addr   // our listening addresses: the only local address literals
	Users      Users          // local mailboxes
	Postmaster string         // where postmaster@ every local domain goes

	// Maps returns the maps in force (access, virtusertable, aliases),
	// read once per decision so that a reload takes effect at once; nil
	// (or a nil result) means no maps.
	Maps func() *maps.Maps
	// AllowSenderRelay honours access-map From:... RELAY entries.
	AllowSenderRelay bool
	// LuserRelay gets mail for unknown users of local domains instead of
	// 550 5.1.1 (sendmail's LUSER_RELAY); "" refuses them. A bare name is
	// a user of the recipient's domain.
	LuserRelay string
	// SRS, when set, takes the SRS addresses of our SRS domain before
	// any other rule of the recipient's domain (srs.go).
	SRS SRS
	// BackupMX, when set, takes the recipients of the backup-MX domains
	// before the relay domains (backup.go).
	BackupMX BackupMX
}

// Decision is the verdict for one recipient.
type Decision struct {
	Reply   *smtp.Reply // nil: accepted
	Class   Class       // where it goes, when accepted
	Mailbox string      // the address to deliver to (postmaster mapped), when accepted
	Rule    string      // what decided, in words
	// SkipChecks is set when an access-map To:... OK entry exempts the
	// recipient from the later RCPT checks (DNS block lists, greylisting).
	SkipChecks bool
}

// Accepted reports whether the recipient was taken.
func (d Decision) Accepted() bool { return d.Reply == nil }

// Rcpt decides for one recipient without knowing the sender or the
// client's host name. client is the connecting address (the invalid Addr
// for local submission), authUser the SASL user or "".
func (r *Relay) Rcpt(client netip.Addr, authUser string, to smtp.Path) Decision {
	return r.Decide(Query{Client: client, AuthUser: authUser, To: to})
}

func (r *Relay) isLocal(domain string) (string, bool) {
	if domain == r.Hostname {
		return "our host name " + r.Hostname, true
	}
	for _, d := range r.Local {
		if rule, ok := d.Match(domain); ok {
			return rule, true
		}
	}
	return "", false
}

// IsLocal reports whether domain is delivered on this host.
func (r *Relay) IsLocal(domain string) bool {
	_, ok := r.isLocal(domain)
	return ok
}

func (r *Relay) ownAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, o := range r.OwnAddrs {
		if o.Unmap() == a {
			return true
		}
	}
	return false
}

// DomainList is a fixed set of domains, as from the configuration.
type DomainList struct {
	Source     string          // e.g. "local_domains" (for explanations)
	Subdomains bool            // also match subdomains, on whole labels
	domains    map[string]bool // normalised
}

// NewDomainList builds a list from normalised domain names.
func NewDomainList(source string, subdomains bool, domains []string) *DomainList {
	m := make(map[string]bool, len(domains))
	for _, d := range domains {
		m[d] = true
	}
	return &DomainList{Source: source, Subdomains: subdomains, domains: m}
}

// Match implements Domains.
func (l *DomainList) Match(domain string) (string, bool) {
	if l.domains[domain] {
		return fmt.Sprintf("%s contains %s", l.Source, domain), true
	}
	if l.Subdomains {
		for d := domain; ; {
			i := strings.IndexByte(d, '.')
			if i < 0 {
				break
			}
			d = d[i+1:]
			if l.domains[d] {
				return fmt.Sprintf("%s contains %s (a parent of %s)", l.Source, d, domain), true
			}
		}
	}
	return "", false
}
