package dns

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// query asks for the records of type qtype at fqdn. A "not found" error
// comes with the answer, whose ttl is then the negative TTL.
func (c *Client) query(ctx context.Context, name, fqdn string, qtype uint16) (answer, error) {
	return c.queryDNSSEC(ctx, name, fqdn, qtype, false)
}

// queryDNSSEC is query, with the DNSSEC bits set on the question when
// dnssec is; the answer is then secure when the server that gave it set
// AD and is trusted to validate (see Options.DNSSECTrusted).
func (c *Client) queryDNSSEC(ctx context.Context, name, fqdn string, qtype uint16, dnssec bool) (answer, error) {
	m, server, err := c.exchange(ctx, name, fqdn, qtype, dnssec)
	if err != nil {
		return answer{}, err
	}
	a, err := readAnswer(m, name, fqdn, qtype)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) {
			de.Server = server
		}
		return answer{}, err
	}
	a.secure = dnssec && m.AuthenticatedData && c.trusted(server)
	if a.notFound {
		return a, notFoundError(name, server)
	}
	return a, nil
}

// queryName checks name and asks for its records of type qtype.
func (c *Client) queryName(ctx context.Context, name string, qtype uint16) (answer, error) {
	fqdn, err := checkName(name)
	if err != nil {
		return answer{}, err
	}
	return c.query(ctx, name, fqdn, qtype)
}

// LookupTXT returns the TXT records of name, the character-strings of
// each record joined into one string (RFC 7208 3.3, RFC 6376 3.6.2.2).
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, _, err := c.LookupTXTWithTTL(ctx, name)
	return txt, err
}

// LookupTXTWithTTL is LookupTXT with the answer's TTL (see TTLResolver).
func (c *Client) LookupTXTWithTTL(ctx context.Context, name string) ([]string, time.Duration, error) {
	a, err := c.queryName(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, a.ttl, err
	}
	return txtStrings(a.rrs), a.ttl, nil
}

// unescapeText undoes the presentation format miekg/dns gives a
// character-string (RFC 1035 5.1): \DDD is the byte with that decimal
// value, \X is X. The bytes on the wire reach the caller unchanged, as
// net.Resolver gives them.
func unescapeText(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func txtStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			var b strings.Builder
			for _, s := range t.Txt {
				b.WriteString(unescapeText(s))
			}
			out = append(out, b.String())
		}
	}
	return out
}

// LookupMX returns the MX records of name sorted by preference, equal
// preferences in random order, as net.Resolver does. Host names keep
// their final dot; a null MX (RFC 7505) is the host ".".
func (c *Client) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mx, _, err := c.LookupMXWithTTL(ctx, name)
	return mx, err
}

// LookupMXWithTTL is LookupMX with the answer's TTL (see TTLResolver).
func (c *Client) LookupMXWithTTL(ctx context.Context, name string) ([]*net.MX, time.Duration, error) {
	a, err := c.queryName(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, a.ttl, err
	}
	mx, err := mxRecords(name, a.rrs)
	return mx, a.ttl, err
}

func mxRecords(name string, rrs []dns.RR) ([]*net.MX, error) {
	var out []*net.MX
	bad := 0
	for _, rr := range rrs {
		m, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		if !validName(m.Mx) {
			bad++
			continue
		}
		out = append(out, &net.MX{Host: m.Mx, Pref: m.Preference})
	}
	if len(out) == 0 && bad > 0 {
		return nil, &net.DNSError{Err: errMalformed, Name: name}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	slices.SortStableFunc(out, func(a, b *net.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	return out, nil
}

// LookupIPAddr returns the IPv4 and IPv6 addresses of host, IPv4 first.
// The A and AAAA questions are asked at once; when either fails
// temporarily the lookup fails temporarily, and it is "not found" only
// when both say the name or the record does not exist.
func (c *Client) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, _, err := c.LookupIPAddrWithTTL(ctx, host)
	return ips, err
}

// LookupIPAddrWithTTL is LookupIPAddr with the answer's TTL (see
// TTLResolver): the smaller of the two answers' TTLs.
func (c *Client) LookupIPAddrWithTTL(ctx context.Context, host string) ([]net.IPAddr, time.Duration, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []net.IPAddr{{IP: ip.AsSlice(), Zone: ip.Zone()}}, -1, nil
	}
	if isLocalhost(host) {
		return slices.Clone(loopbackAddrs), -1, nil
	}
	fqdn, err := checkName(host)
	if err != nil {
		return nil, 0, err
	}
	a, err := c.queryAddrs(ctx, host, fqdn, false)
	return a.ips, a.ttl, err
}

// addrs is what the A and AAAA answers for one name say together.
type addrs struct {
	ips    []net.IPAddr
	ttl    time.Duration
	secure bool   // both answers (or denials) secure
	owner  string // the name after CNAMEs, when the answers agree on it
}

// queryAddrs asks A and AAAA at once. When either fails temporarily the
// lookup fails temporarily; it is "not found" only when both say the
// name or the record does not exist.
func (c *Client) queryAddrs(ctx context.Context, host, fqdn string, dnssec bool) (addrs, error) {
	type result struct {
		a   answer
		err error
	}
	six := make(chan result, 1)
	go func() {
		a, err := c.queryDNSSEC(ctx, host, fqdn, dns.TypeAAAA, dnssec)
		six <- result{a, err}
	}()
	a4, err4 := c.queryDNSSEC(ctx, host, fqdn, dns.TypeA, dnssec)
	r6 := <-six
	a6, err6 := r6.a, r6.err
	// A temporary failure on either side wins: the missing side might
	// hold the only addresses.
	if err4 != nil && !IsNotFound(err4) {
		return addrs{}, err4
	}
	if err6 != nil && !IsNotFound(err6) {
		return addrs{}, err6
	}
	out := addrs{ttl: min(a4.ttl, a6.ttl), secure: a4.secure && a6.secure}
	if err4 != nil && err6 != nil {
		return out, err4
	}
	switch {
	case len(a6.rrs) == 0 || a4.owner == a6.owner:
		out.owner = a4.owner
	case len(a4.rrs) == 0:
		out.owner = a6.owner
	default:
		// The two chains end at different names: claim no expansion.
		out.owner = dns.CanonicalName(fqdn)
	}
	for _, rr := range a4.rrs {
		if r, ok := rr.(*dns.A); ok {
			out.ips = append(out.ips, net.IPAddr{IP: r.A})
		}
	}
	for _, rr := range a6.rrs {
		if r, ok := rr.(*dns.AAAA); ok {
			out.ips = append(out.ips, net.IPAddr{IP: r.AAAA})
		}
	}
	return out, nil
}

// LookupHost is LookupIPAddr with the addresses as strings.
func (c *Client) LookupHost(ctx context.Context, host string) ([]string, error) {
	hs, _, err := c.LookupHostWithTTL(ctx, host)
	return hs, err
}

// LookupHostWithTTL is LookupHost with the answer's TTL (see TTLResolver).
func (c *Client) LookupHostWithTTL(ctx context.Context, host string) ([]string, time.Duration, error) {
	ips, ttl, err := c.LookupIPAddrWithTTL(ctx, host)
	if err != nil {
		return nil, ttl, err
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out, ttl, nil
}

// LookupAddr returns the names of an IP address (its PTR records), each
// with its final dot, as net.Resolver does.
func (c *Client) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	names, _, err := c.LookupAddrWithTTL(ctx, addr)
	return names, err
}

// LookupAddrWithTTL is LookupAddr with the answer's TTL (see TTLResolver).
func (c *Client) LookupAddrWithTTL(ctx context.Context, addr string) ([]string, time.Duration, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, 0, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	a, err := c.query(ctx, addr, rev, dns.TypePTR)
	if err != nil {
		return nil, a.ttl, err
	}
	names, err := ptrNames(addr, a.rrs)
	return names, a.ttl, err
}

func ptrNames(addr string, rrs []dns.RR) ([]string, error) {
	var out []string
	bad := 0
	for _, rr := range rrs {
		p, ok := rr.(*dns.PTR)
		if !ok {
			continue
		}
		if !validName(p.Ptr) {
			bad++
			continue
		}
		out = append(out, p.Ptr)
	}
	if len(out) == 0 && bad > 0 {
		return nil, &net.DNSError{Err: errMalformed, Name: addr}
	}
	return out, nil
}
