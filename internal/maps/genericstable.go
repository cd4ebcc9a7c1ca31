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
	m, err := parseKV(name, r, genericsKey, func(nk, val string, src Source) (*GenericResult, error) {
		if strings.ContainsAny(val, " \t,<>") {
			return nil, fmt.Errorf("value %q: one address only", val)
		}
		res := &GenericResult{Address: val, Key: nk, Source: src}
		if local, domain, ok := splitAddress(val); ok {
			d, err := normDomainOrLiteral(domain)
			if local == "" || err != nil {
				return nil, fmt.Errorf("value %q: bad address", val)
			}
			res.Address, res.Qualified = local+"@"+d, true
		}
		return res, nil
	})
	if err != nil {
		return nil, err
	}
	return &Genericstable{m: m}, nil
}

// genericsKey normalises a genericstable key: "user" or "user@domain".
func genericsKey(key string) (string, error) {
	local, domain, ok := splitAddress(key)
	if !ok {
		return strings.ToLower(key), nil
	}
	d, err := normDomainOrLiteral(domain)
	if local == "" || err != nil {
		return "", fmt.Errorf("key %q: want user or user@domain", key)
	}
	return strings.ToLower(local) + "@" + d, nil
}

func (r *GenericResult) definedAt() int { return r.Source.Line }

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
