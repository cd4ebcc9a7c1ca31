package maps

import (
	"fmt"
	"io"
	"strings"
)

// Genericstable is a parsed genericstable: outbound sender rewriting.
type Genericstable struct {
	m map[string]*GenericResult
}

// GenericResult is the answer of a genericstable lookup.
type GenericResult struct {
	// Address is the new sender. When Qualified is false it is a bare user
	// name that the caller qualifies (with the masquerade name or host
	// name), as sendmail does.
	Address   string
	Qualified bool
	Key       string
	Source    Source
}

// Rule describes the match for explanations.
func (r GenericResult) Rule() string {
	return fmt.Sprintf("%s: %s %s", r.Source.Human(), r.Key, r.Address)
}

// Len is the number of entries.
func (g *Genericstable) Len() int {
	if g == nil {
		return 0
	}
	return len(g.m)
}

// ParseGenericstable reads a genericstable: keys "user" or "user@domain",
// values the new sender address.
func ParseGenericstable(name string, r io.Reader) (*Genericstable, error) {
	el := &errList{file: name}
	g := &Genericstable{m: make(map[string]*GenericResult)}
	for _, ln := range readLines(r, el) {
		if skippable(ln.text) {
			continue
		}
		key, val := splitKV(ln.text)
		if val == "" {
			el.add(ln.n, "key %q has no value", key)
			continue
		}
		nk := strings.ToLower(key)
		if local, domain, ok := splitAddress(key); ok {
			d, err := normDomainOrLiteral(domain)
			if local == "" || err != nil {
				el.add(ln.n, "key %q: want user or user@domain", key)
				continue
			}
			nk = strings.ToLower(local) + "@" + d
		}
		if strings.ContainsAny(val, " \t,<>") {
			el.add(ln.n, "value %q: one address only", val)
			continue
		}
		res := &GenericResult{Address: val, Key: nk, Source: Source{File: name, Line: ln.n}}
		if local, domain, ok := splitAddress(val); ok {
			d, err := normDomainOrLiteral(domain)
			if local == "" || err != nil {
				el.add(ln.n, "value %q: bad address", val)
				continue
			}
			res.Address, res.Qualified = local+"@"+d, true
		}
		if old, dup := g.m[nk]; dup {
			el.add(ln.n, "duplicate key %q (first at line %d)", key, old.Source.Line)
			continue
		}
		g.m[nk] = res
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	return g, nil
}

// GenericsOptions say which senders the genericstable applies to.
type GenericsOptions struct {
	// Domains is sendmail's class G (GENERICS_DOMAIN): sender domains that
	// are rewritten. Unqualified senders are always looked up.
	Domains []string
	// EntireDomain is FEATURE(generics_entire_domain): subdomains of Domains too.
	EntireDomain bool
}

func (o GenericsOptions) covers(d string) bool {
	for _, g := range o.Domains {
		g = lookupDomainOrLiteral(g)
		if d == g || (o.EntireDomain && inDomain(d, g)) {
			return true
		}
	}
	return false
}

// Lookup rewrites an outbound sender: for user@domain with domain in
// opt.Domains, the key user@domain then user; for an unqualified user,
// the key user. The null sender is never rewritten.
func (g *Genericstable) Lookup(addr string, opt GenericsOptions) (GenericResult, bool) {
	if g == nil || len(g.m) == 0 {
		return GenericResult{}, false
	}
	local, domain, hasAt := normAddress(addr)
	if local == "" {
		return GenericResult{}, false
	}
	if hasAt {
		if !opt.covers(domain) {
			return GenericResult{}, false
		}
		if r := g.m[local+"@"+domain]; r != nil {
			return *r, true
		}
	}
	if r := g.m[local]; r != nil {
		return *r, true
	}
	return GenericResult{}, false
}
