package spf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	pdns "postern/internal/dns"
)

// MaxMXNames is how many MX names one mx mechanism may look up (RFC 7208
// 4.6.4: more than 10 is a permanent error).
const MaxMXNames = 10

// Errors from FetchRecord.
var (
	// ErrNoRecord: the domain publishes no SPF record (RFC 7208 4.5: the
	// result is "none").
	ErrNoRecord = errors.New("no SPF record")
	// ErrNoTXT: the query found no records at all (NXDOMAIN or NODATA),
	// a void lookup in RFC 7208 4.6.4. It comes wrapped with ErrNoRecord.
	ErrNoTXT = errors.New("no TXT records")
)

// FetchRecord returns the one SPF record of domain (RFC 7208 4.5: zero is
// "none", more than one is a permanent error). Resolver errors are
// returned as they are.
func FetchRecord(ctx context.Context, res pdns.Resolver, domain string) (string, error) {
	txts, err := res.LookupTXT(ctx, domain)
	if err != nil {
		if pdns.IsNotFound(err) {
			return "", fmt.Errorf("%w: %w", ErrNoRecord, ErrNoTXT)
		}
		return "", err
	}
	var found []string
	for _, t := range txts {
		if IsRecord(t) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", ErrNoRecord
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%d SPF records (only one is allowed)", len(found))
}

// Fetched is one SPF record read during CountLookups.
type Fetched struct {
	Domain string
	Text   string
}

// LookupCount is what CountLookups found walking a domain's SPF record
// and the records it includes and redirects to, as a receiver would
// without knowing the client: the terms that cost lookups, the lookups
// that came back empty, and the problems on the way, in words.
type LookupCount struct {
	Records []Fetched // every record read, in order
	Lookups int       // terms that cost a DNS lookup (RFC 7208 4.6.4)
	Void    []string  // lookups that returned no records: "name TYPE"
	Perm    []string  // problems that give receivers a permanent error
	Notes   []string  // problems worth a warning: what could not be followed
}

// walker is one CountLookups in progress.
type walker struct {
	*LookupCount
	ctx  context.Context
	res  pdns.Resolver
	seen map[string]bool // the records being walked, against loops
}

// CountLookups walks the SPF record of domain and every record it
// includes or redirects to, counting the terms that need DNS lookups and
// doing the lookups of a, mx and exists to find the void ones. Terms with
// macros depend on the sender and are not followed.
func CountLookups(ctx context.Context, res pdns.Resolver, domain string) *LookupCount {
	c := &walker{LookupCount: &LookupCount{}, ctx: ctx, res: res, seen: map[string]bool{}}
	c.Lookups = c.count(domain, 0)
	return c.LookupCount
}

// count walks the record of domain, depth includes down, and returns the
// lookups it and the records below it cost.
func (c *walker) count(domain string, depth int) int {
	if depth > LookupLimit {
		c.Notes = append(c.Notes, "includes nest deeper than "+strconv.Itoa(LookupLimit))
		return 0
	}
	key := strings.ToLower(strings.TrimSuffix(domain, "."))
	if c.seen[key] {
		c.Notes = append(c.Notes, "include loop at "+key)
		return 0
	}
	c.seen[key] = true
	defer delete(c.seen, key)
	rec, ok := c.fetch(domain, depth)
	if !ok {
		return 0
	}
	n := 0
	for _, t := range rec.Terms {
		if !t.NeedsLookup() {
			continue
		}
		n++
		target := t.Domain
		if target == "" {
			// RFC 7208 5.3, 5.4: without a domain-spec, the current domain.
			target = domain
		}
		if strings.Contains(target, "%") {
			// Macros expand to the sender's data, known only at a
			// receiver.
			if t.Name == "include" || t.Name == "redirect" {
				c.Notes = append(c.Notes, "cannot follow "+t.Name+" with macros: "+t.Arg)
			}
			continue
		}
		n += c.follow(t.Name, target, depth)
	}
	return n
}

// fetch reads and parses the record of domain for count.
func (c *walker) fetch(domain string, depth int) (*Record, bool) {
	txt, err := FetchRecord(c.ctx, c.res, domain)
	if err != nil {
		// RFC 7208 4.6.4: a query answered with no records at all
		// (NXDOMAIN or NODATA) is a void lookup.
		if depth > 0 && errors.Is(err, ErrNoTXT) {
			c.voided(domain, "TXT")
		}
		var de *net.DNSError
		if depth > 0 && !(errors.As(err, &de) && pdns.IsTemporary(err)) {
			// RFC 7208 5.2 and 6.1: an include or redirect target
			// without a usable record is a permanent error.
			c.Perm = append(c.Perm, domain+": "+err.Error()+" (receivers get a permanent error)")
		} else {
			c.Notes = append(c.Notes, domain+": "+err.Error())
		}
		return nil, false
	}
	c.Records = append(c.Records, Fetched{Domain: domain, Text: txt})
	rec, err := ParseRecord(txt)
	if err != nil {
		c.Perm = append(c.Perm, domain+": "+err.Error()+" (receivers get a permanent error)")
		return nil, false
	}
	return rec, true
}

// follow does what a lookup term asks of DNS, returning the lookups of
// the records it leads to.
func (c *walker) follow(name, target string, depth int) int {
	switch name {
	case "include", "redirect":
		return c.count(target, depth+1)
	case "a":
		c.lookupAddr(target, "A/AAAA")
	case "exists":
		// RFC 7208 5.7: exists asks for A records only.
		c.lookupAddr(target, "A")
	case "mx":
		c.lookupMX(target)
	case "ptr":
		// The ptr mechanism looks up the connecting client's address,
		// which only exists at a receiver: nothing to ask here.
	}
	return 0
}

// voided records a void lookup.
func (c *walker) voided(name, typ string) {
	c.Void = append(c.Void, strings.TrimSuffix(name, ".")+" "+typ)
}

// lookupAddr does the address lookup of an a or exists mechanism (only
// A records count when typ is "A").
func (c *walker) lookupAddr(name, typ string) {
	ips, err := c.res.LookupIPAddr(c.ctx, name)
	switch {
	case err != nil && pdns.IsNotFound(err):
		c.voided(name, typ)
	case err != nil:
		c.Notes = append(c.Notes, name+": "+err.Error())
	default:
		n := 0
		for _, ip := range ips {
			if typ != "A" || ip.IP.To4() != nil {
				n++
			}
		}
		if n == 0 {
			c.voided(name, typ)
		}
	}
}

// lookupMX does the lookups of an mx mechanism: the MX records, then
// the addresses of each exchange (RFC 7208 5.4).
func (c *walker) lookupMX(name string) {
	mxs, err := c.res.LookupMX(c.ctx, name)
	if err != nil {
		if pdns.IsNotFound(err) {
			c.voided(name, "MX")
		} else {
			c.Notes = append(c.Notes, name+" MX: "+err.Error())
		}
		return
	}
	if len(mxs) == 0 {
		c.voided(name, "MX")
		return
	}
	// RFC 7208 4.6.4: more than 10 MX names is a permanent error.
	if len(mxs) > MaxMXNames {
		c.Perm = append(c.Perm, fmt.Sprintf("%s has %d MX records, over the limit of %d for the mx mechanism (receivers get a permanent error)", name, len(mxs), MaxMXNames))
		return
	}
	for _, mx := range mxs {
		// A null MX (RFC 7505) names no host to look up.
		if h := strings.TrimSuffix(mx.Host, "."); h != "" {
			c.lookupAddr(h, "A/AAAA")
		}
	}
}
