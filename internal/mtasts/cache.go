package mtasts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// TXTResolver looks up the _mta-sts record; postern's dns.Resolver is
// one. A name without the record answers an error that is a
// *net.DNSError with IsNotFound set.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Cache holds the MTA-STS policies that outbound delivery enforces: in
// memory, and on disk (Dir) so that a restart keeps them for their
// max_age (RFC 8461 5.1). A policy in force is used without any DNS or
// HTTPS on the delivery path; checking for a new one happens in the
// background (Refresh, Run).
type Cache struct {
	Dir string // where policies are kept; "" keeps them in memory only
	// ReadOnly loads Dir but never writes to it: the CLI, run as root,
	// must not leave files there that the server cannot replace.
	ReadOnly bool
	Resolver TXTResolver
	Client   *http.Client // NewClient's, or a test's
	Timeout  time.Duration
	Log      *slog.Logger
	// CheckEvery is how long a policy is used before the TXT record is
	// looked at again for a new id; 0 means an hour.
	CheckEvery time.Duration
	// NoPolicyFor is how long "this domain publishes no policy" is
	// remembered; 0 means ten minutes.
	NoPolicyFor time.Duration
	Now         func() time.Time // nil: time.Now

	mu       sync.Mutex
	entries  map[string]*Entry
	absent   map[string]time.Time // domain → until when it has no policy
	inFlight map[string]bool
	bg       sync.WaitGroup // the background refreshes (refreshLater)
}

// Entry is one domain's cached policy.
type Entry struct {
	Domain  string    `json:"domain"`
	ID      string    `json:"id"`      // the TXT record's id when it was fetched
	Body    string    `json:"body"`    // the policy file as served
	Fetched time.Time `json:"fetched"` // when the policy file was fetched
	Checked time.Time `json:"checked"` // when the TXT record was last seen with ID
	Policy  *Policy   `json:"-"`
}

// Expires is when the policy stops being in force (RFC 8461 3.2 max_age).
func (e *Entry) Expires() time.Time {
	return e.Fetched.Add(time.Duration(e.Policy.MaxAge) * time.Second)
}

// Decision is the MTA-STS answer for a recipient domain.
type Decision struct {
	Policy *Policy // nil: the domain has no policy in force
	Source string  // "cache", "fetched" or "" without a policy
	Reason string  // why, for the log and postern explain
	Fetch  error   // the fetch failure that was passed over, for TLS reports
}

// Enforced reports whether delivery must follow the policy (mode enforce).
func (d Decision) Enforced() bool { return d.Policy != nil && d.Policy.Mode == Enforce }

// ErrLookup marks a Lookup that failed without a policy to fall back
// on: the TXT record could not be looked up. Delivery defers (4xx).
var ErrLookup = errors.New("MTA-STS record lookup failed")

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cache) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Lookup returns the policy in force for domain (lower case, A-labels).
// RFC 8461 5.1: a cached policy that has not expired is used as it is (a
// check for a newer one starts in the background when it is due); without
// one, the TXT record is looked up and, when there is one, the policy is
// fetched and cached. A domain with a record but no policy that can be
// fetched has none (RFC 8461 3.3); the failure is in Decision.Fetch.
func (c *Cache) Lookup(ctx context.Context, domain string) (Decision, error) {
	now := c.now()
	c.mu.Lock()
	e := c.entries[domain]
	until, absent := c.absent[domain]
	c.mu.Unlock()
	if e != nil && now.Before(e.Expires()) {
		if now.Sub(e.Checked) >= c.checkEvery() {
			c.refreshLater(domain)
		}
		return cachedDecision(e), nil
	}
	if absent && now.Before(until) {
		return Decision{Reason: "no MTA-STS record (remembered)"}, nil
	}
	return c.refresh(ctx, domain, nil)
}

func cachedDecision(e *Entry) Decision {
	reason := fmt.Sprintf("MTA-STS policy id %s, mode %s, cached until %s", e.ID, e.Policy.Mode,
		e.Expires().UTC().Format(time.RFC3339))
	if e.Policy.Mode == None {
		return Decision{Source: "cache", Reason: reason}
	}
	return Decision{Policy: e.Policy, Source: "cache", Reason: reason}
}

func (c *Cache) checkEvery() time.Duration {
	if c.CheckEvery > 0 {
		return c.CheckEvery
	}
	return time.Hour
}

func (c *Cache) noPolicyFor() time.Duration {
	if c.NoPolicyFor > 0 {
		return c.NoPolicyFor
	}
	return 10 * time.Minute
}

// refresh looks at domain's TXT record and fetches the policy when its id
// is new (or the cached one nears its end); old is the entry in force, if
// any, which stays in force when anything fails (RFC 8461 10.2).
func (c *Cache) refresh(ctx context.Context, domain string, old *Entry) (Decision, error) {
	now := c.now()
	id, err := c.lookupID(ctx, domain)
	var dnsErr *net.DNSError
	switch {
	case err != nil && errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		if old != nil {
			// RFC 8461 3.3: a withdrawn record does not end a cached policy;
			// only a policy of mode none does.
			return cachedDecision(old), nil
		}
		c.remember(domain, now.Add(c.noPolicyFor()))
		return Decision{Reason: "no MTA-STS record"}, nil
	case err != nil && old != nil:
		return cachedDecision(old), nil
	case err != nil:
		return Decision{}, fmt.Errorf("%w for %s: %v", ErrLookup, domain, err)
	}
	if old != nil && old.ID == id && now.Before(old.Fetched.Add(refetchAfter(old.Policy))) {
		c.touch(domain, now)
		return cachedDecision(old), nil
	}
	e, err := c.fetch(ctx, domain, id, now)
	if err != nil {
		c.log().Warn("MTA-STS policy fetch failed", "domain", domain, "id", id, "error", err)
		if old != nil {
			d := cachedDecision(old)
			d.Fetch = err
			return d, nil
		}
		// RFC 8461 3.3: without a cached policy, deliver as if none.
		return Decision{Reason: "MTA-STS record id " + id + " but no policy: " + err.Error(), Fetch: err}, nil
	}
	c.store(e)
	d := cachedDecision(e)
	d.Source = "fetched"
	return d, nil
}

// refetchAfter is how long a policy is kept before it is fetched again
// even when the record's id has not changed: half its max_age, so that it
// is renewed well before it expires (RFC 8461 10.2).
func refetchAfter(p *Policy) time.Duration {
	return time.Duration(p.MaxAge) * time.Second / 2
}

// lookupID returns the id of domain's one valid _mta-sts record.
func (c *Cache) lookupID(ctx context.Context, domain string) (string, error) {
	txts, err := c.Resolver.LookupTXT(ctx, RecordName(domain))
	if err != nil {
		return "", err
	}
	var found []*Record
	for _, t := range txts {
		// RFC 8461 3.1: strings that do not start with v=STSv1 are not ours.
		if rec, err := ParseRecord(t); err == nil {
			found = append(found, rec)
		}
	}
	if len(found) != 1 {
		// RFC 8461 3.1: none, or more than one, is as if there were none.
		return "", &net.DNSError{Err: fmt.Sprintf("%d valid _mta-sts records", len(found)),
			Name: RecordName(domain), IsNotFound: true}
	}
	return found[0].ID, nil
}

// fetch gets and parses domain's policy file.
func (c *Cache) fetch(ctx context.Context, domain, id string, now time.Time) (*Entry, error) {
	resp, err := Fetch(ctx, c.Client, domain, c.Timeout)
	if err != nil {
		return nil, err
	}
	p, err := ParsePolicy(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", PolicyURL(domain), err)
	}
	return &Entry{Domain: domain, ID: id, Body: resp.Body, Fetched: now, Checked: now, Policy: p}, nil
}

func (c *Cache) remember(domain string, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.absent == nil {
		c.absent = map[string]time.Time{}
	}
	c.absent[domain] = until
}

// touch records that the TXT record still names the cached policy.
func (c *Cache) touch(domain string, now time.Time) {
	c.mu.Lock()
	e := c.entries[domain]
	if e != nil {
		cp := *e
		cp.Checked = now
		c.entries[domain] = &cp
		e = &cp
	}
	c.mu.Unlock()
	if e != nil {
		c.save(e)
	}
}

// store puts e in force, in memory and on disk.
func (c *Cache) store(e *Entry) {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*Entry{}
	}
	c.entries[e.Domain] = e
	delete(c.absent, e.Domain)
	c.mu.Unlock()
	c.save(e)
}

// refreshLater checks domain in the background, once at a time.
func (c *Cache) refreshLater(domain string) {
	c.mu.Lock()
	if c.inFlight == nil {
		c.inFlight = map[string]bool{}
	}
	if c.inFlight[domain] {
		c.mu.Unlock()
		return
	}
	c.inFlight[domain] = true
	c.mu.Unlock()
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.inFlight, domain)
			c.mu.Unlock()
		}()
		c.Refresh(context.Background(), domain)
	}()
}

// Wait returns once the background refreshes started so far are done.
func (c *Cache) Wait() { c.bg.Wait() }

// Refresh checks domain's record now and fetches a new policy when there
// is one; the policy in force stays when anything fails.
func (c *Cache) Refresh(ctx context.Context, domain string) {
	c.mu.Lock()
	old := c.entries[domain]
	c.mu.Unlock()
	if old != nil && !c.now().Before(old.Expires()) {
		old = nil
	}
	if _, err := c.refresh(ctx, domain, old); err != nil {
		c.log().Warn("MTA-STS refresh failed", "domain", domain, "error", err)
	}
}

// Run refreshes the cached policies that are due, every interval (0: ten
// minutes), until ctx ends, and forgets the ones that expired.
func (c *Cache) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, d := range c.due() {
			c.Refresh(ctx, d)
		}
		c.expire()
	}
}

// due lists the domains whose record is to be checked again.
func (c *Cache) due() []string {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for d, e := range c.entries {
		if now.Sub(e.Checked) >= c.checkEvery() || !now.Before(e.Fetched.Add(refetchAfter(e.Policy))) {
			out = append(out, d)
		}
	}
	return out
}

// Entries returns the policies held, for postern status and explain.
func (c *Cache) Entries() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Entry, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, *e)
	}
	return out
}
