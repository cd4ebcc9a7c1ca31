package maps

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// DomainList is a sendmail class file: relay-domains (class R) or
// local-host-names (class w). Each line holds one or more names separated
// by blanks; '#' starts a comment line.
type DomainList struct {
	subdomains bool                // relay-domains: a name matches its subdomains too
	names      map[string]Source   // normalised names and address literals
	nets       netTable[*netEntry] // relay-domains only: client networks
	n          int
	warnings   []Warning
}

type netEntry struct {
	key string
	src Source
}

// DomainMatch tells which entry matched.
type DomainMatch struct {
	Key    string
	Source Source
}

// Rule describes the match for explanations: "relay-domains line 3: example.com".
func (m DomainMatch) Rule() string { return m.Source.Human() + ": " + m.Key }

// ParseRelayDomains reads relay-domains. As in sendmail (without
// FEATURE(relay_hosts_only)), a domain matches itself and every subdomain
// on label boundaries. IP addresses and networks (sendmail's octet form,
// IPv6: form or CIDR) name clients, found with ContainsIP.
func ParseRelayDomains(name string, r io.Reader) (*DomainList, error) {
	return parseDomainList(name, r, true)
}

// ParseLocalHostNames reads local-host-names: names (and address literals
// such as "[192.0.2.1]") matched exactly, as sendmail's class w.
func ParseLocalHostNames(name string, r io.Reader) (*DomainList, error) {
	return parseDomainList(name, r, false)
}

func parseDomainList(name string, r io.Reader, relay bool) (*DomainList, error) {
	el := &errList{file: name}
	l := &DomainList{subdomains: relay, names: make(map[string]Source)}
	for _, ln := range readLines(r, el) {
		if skippable(ln.text) {
			continue
		}
		for _, w := range strings.Fields(ln.text) {
			l.add(el, ln.n, w)
		}
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *DomainList) add(el *errList, line int, w string) {
	src := Source{File: el.file, Line: line}
	if len(w) > 6 && strings.EqualFold(w[:6], "[unix:") {
		// sendmail's entry for local UNIX-socket submissions; postern
		// submits locally without SMTP.
		l.warnings = append(l.warnings, Warning{src, fmt.Sprintf("%s is not used by postern; entry ignored", w)})
		return
	}
	if l.subdomains {
		p, isNet, err := parseNetKey(w)
		if err != nil {
			el.add(line, "%s", err)
			return
		}
		if isNet {
			if old, dup := l.nets.put(p, &netEntry{key: netKeyString(p, w), src: src}); dup {
				el.add(line, "duplicate entry %q (first at line %d)", w, old.src.Line)
				return
			}
			l.n++
			return
		}
	}
	d, err := normDomainOrLiteral(w)
	if err != nil {
		el.add(line, "%s", err)
		return
	}
	if old, dup := l.names[d]; dup {
		el.add(line, "duplicate entry %q (first at line %d)", w, old.Line)
		return
	}
	l.names[d] = src
	l.n++
}

// Warnings lists ignored entries, for `postern check`.
func (l *DomainList) Warnings() []Warning {
	if l == nil {
		return nil
	}
	return l.warnings
}

// Len is the number of entries.
func (l *DomainList) Len() int {
	if l == nil {
		return 0
	}
	return l.n
}

// Contains reports whether domain (or an address literal) is listed: for
// relay-domains the domain or one of its parents, for local-host-names the
// name exactly. Case, one trailing dot and IDNA forms do not matter.
func (l *DomainList) Contains(domain string) (DomainMatch, bool) {
	if l == nil || domain == "" {
		return DomainMatch{}, false
	}
	d := lookupDomainOrLiteral(domain)
	if !l.subdomains || strings.HasPrefix(d, "[") {
		if src, ok := l.names[d]; ok {
			return DomainMatch{Key: d, Source: src}, true
		}
		return DomainMatch{}, false
	}
	for _, k := range domainAndParents(d) {
		if src, ok := l.names[k]; ok {
			return DomainMatch{Key: k, Source: src}, true
		}
	}
	return DomainMatch{}, false
}

// ContainsIP reports whether a client address is in one of the networks
// listed in relay-domains (longest prefix first). local-host-names never
// lists networks; use Contains("[192.0.2.1]") for its literals.
func (l *DomainList) ContainsIP(ip netip.Addr) (DomainMatch, bool) {
	if l == nil || !ip.IsValid() || l.nets.m == nil {
		return DomainMatch{}, false
	}
	for _, p := range ipPrefixes(ip) {
		if e := l.nets.m[p]; e != nil {
			return DomainMatch{Key: e.key, Source: e.src}, true
		}
	}
	return DomainMatch{}, false
}

// Names lists the names and literals in the list, in no particular order.
func (l *DomainList) Names() []string {
	if l == nil {
		return nil
	}
	out := make([]string, 0, len(l.names))
	for k := range l.names {
		out = append(out, k)
	}
	return out
}
