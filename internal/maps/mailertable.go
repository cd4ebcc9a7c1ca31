package maps

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Hop is one next-hop host of a mailertable route.
type Hop struct {
	Host string     // host name (normalised) or address text
	IP   netip.Addr // set for an address literal
	Port int        // 0: the mailer's default port
	// NoMX is set for "[host]" (and for LMTP): connect to the host's own
	// addresses without an MX lookup, as sendmail does.
	NoMX bool
}

// Route is the answer of a mailertable lookup.
type Route struct {
	// Mailer is the delivery agent: "smtp", "esmtp", "smtp8", "dsmtp" and
	// "relay" (all SMTP), "local", "lmtp" or "error".
	Mailer   string
	Hops     []Hop  // SMTP and LMTP over TCP: tried in order
	Socket   string // LMTP over a UNIX socket
	User     string // local:user: deliver to this local user
	Code     int    // error
	Enhanced string // error
	Text     string // error
	Key      string // the key that matched: "example.com", ".example.com" or "."
	Value    string // the value as written
	Source   Source
}

// Rule describes the match for explanations.
func (r Route) Rule() string {
	return fmt.Sprintf("%s: %s %s", r.Source.Human(), r.Key, r.Value)
}

// IsSMTP reports whether the route delivers with SMTP.
func (r Route) IsSMTP() bool {
	switch r.Mailer {
	case "smtp", "esmtp", "smtp8", "dsmtp", "relay":
		return true
	}
	return false
}

// Mailertable is a parsed mailertable: per-domain routing.
type Mailertable struct {
	m map[string]*Route
}

// Len is the number of entries.
func (t *Mailertable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.m)
}

// ParseMailertable reads a mailertable: keys "domain" (that domain only),
// ".domain" (its subdomains only) and "." (everything else); values
// "mailer:host" as described on Route.
func ParseMailertable(name string, r io.Reader) (*Mailertable, error) {
	m, err := parseKV(name, r, mailertableKey, func(nk, val string, src Source) (*Route, error) {
		rt, err := parseRoute(val)
		if err != nil {
			return nil, err
		}
		rt.Key, rt.Value, rt.Source = nk, val, src
		return rt, nil
	})
	if err != nil {
		return nil, err
	}
	return &Mailertable{m: m}, nil
}

func (r *Route) definedAt() int { return r.Source.Line }

func mailertableKey(k string) (string, error) {
	if k == "." {
		return k, nil
	}
	if strings.HasPrefix(k, ".") {
		d, err := normDomain(k[1:])
		if err != nil {
			return "", fmt.Errorf("key %q: %v", k, err)
		}
		return "." + d, nil
	}
	d, err := normDomainOrLiteral(k)
	if err != nil {
		return "", fmt.Errorf("key %q: %v", k, err)
	}
	return d, nil
}

func parseRoute(v string) (*Route, error) {
	mailer, spec, ok := strings.Cut(v, ":")
	if !ok {
		return nil, fmt.Errorf("value %q: want mailer:host, e.g. esmtp:[mail.example.com]", v)
	}
	rt := &Route{Mailer: strings.ToLower(mailer)}
	switch rt.Mailer {
	case "error":
		code, enh, text, err := parseMailerError(spec)
		if err != nil {
			return nil, err
		}
		rt.Code, rt.Enhanced, rt.Text = code, enh, text
		return rt, nil
	case "local":
		if spec != "" {
			if strings.ContainsAny(spec, " \t@/|") {
				return nil, fmt.Errorf("local:%s: want a local user name", spec)
			}
			rt.User = strings.ToLower(spec)
		}
		return rt, nil
	case "lmtp":
		if strings.HasPrefix(spec, "/") {
			rt.Socket = spec
			return rt, nil
		}
		hops, err := parseHops(spec)
		if err != nil {
			return nil, err
		}
		for i := range hops {
			hops[i].NoMX = true // LMTP goes to the named host, never via MX
		}
		rt.Hops = hops
		return rt, nil
	case "smtp", "esmtp", "smtp8", "dsmtp", "relay":
		hops, err := parseHops(spec)
		if err != nil {
			return nil, err
		}
		rt.Hops = hops
		return rt, nil
	}
	return nil, fmt.Errorf("unknown mailer %q: want smtp, esmtp, smtp8, dsmtp, relay, local, lmtp or error", mailer)
}

// parseHops reads "host", "[host]", "[host]:port", "host:port" and
// sendmail's colon-separated fallback list "h1:h2:[h3]:2525". A number
// after a host is that host's port.
func parseHops(spec string) ([]Hop, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("missing host after the mailer")
	}
	var hops []Hop
	s := spec
	for s != "" {
		var h Hop
		var name string
		if s[0] == '[' {
			j := strings.IndexByte(s, ']')
			if j < 0 {
				return nil, fmt.Errorf("%q: missing ']'", spec)
			}
			name, s = s[1:j], s[j+1:]
			h.NoMX = true
			if s != "" && s[0] != ':' {
				return nil, fmt.Errorf("%q: unexpected %q after ']'", spec, s)
			}
		} else {
			i := strings.IndexByte(s, ':')
			if i < 0 {
				name, s = s, ""
			} else {
				name, s = s[:i], s[i:]
			}
		}
		s = strings.TrimPrefix(s, ":")
		// A port: digits up to the next ':' or the end.
		if s != "" {
			i := strings.IndexByte(s, ':')
			word := s
			if i >= 0 {
				word = s[:i]
			}
			if isDigits(word) {
				p, err := strconv.Atoi(word)
				if err != nil || p < 1 || p > 65535 {
					return nil, fmt.Errorf("%q: bad port %q", spec, word)
				}
				h.Port = p
				if i >= 0 {
					s = s[i+1:]
				} else {
					s = ""
				}
			}
		}
		if err := h.setHost(name); err != nil {
			return nil, fmt.Errorf("%q: %v", spec, err)
		}
		hops = append(hops, h)
	}
	return hops, nil
}

func (h *Hop) setHost(name string) error {
	if name == "" {
		return fmt.Errorf("empty host")
	}
	if len(name) > 5 && strings.EqualFold(name[:5], "ipv6:") {
		a, err := netip.ParseAddr(name[5:])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return fmt.Errorf("bad IPv6 address %q", name)
		}
		h.IP, h.Host = a, a.String()
		return nil
	}
	if a, err := netip.ParseAddr(name); err == nil && a.Zone() == "" {
		h.IP, h.Host = a.Unmap(), a.Unmap().String()
		return nil
	}
	d, err := normDomain(name)
	if err != nil {
		return err
	}
	h.Host = d
	return nil
}

// Lookup finds the route for a recipient domain: the domain itself, then
// ".parent" for each parent domain (a leading dot matches subdomains
// only), then "." as the default.
func (t *Mailertable) Lookup(domain string) (Route, bool) {
	if t == nil || len(t.m) == 0 {
		return Route{}, false
	}
	d := lookupDomainOrLiteral(domain)
	if d == "" {
		return Route{}, false
	}
	if r := t.m[d]; r != nil {
		return r.clone(), true
	}
	if !strings.HasPrefix(d, "[") {
		for _, p := range domainAndParents(d)[1:] {
			if r := t.m["."+p]; r != nil {
				return r.clone(), true
			}
		}
	}
	if r := t.m["."]; r != nil {
		return r.clone(), true
	}
	return Route{}, false
}

func (r *Route) clone() Route {
	c := *r
	c.Hops = slices.Clone(r.Hops)
	return c
}
