package dns

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The DNSSEC lookups do not validate signatures themselves: like
// Postfix with smtp_dns_support_level = dnssec, they ask a validating
// resolver with the DO and AD bits set and believe the AD bit of its
// reply (RFC 4035 3.2.3, RFC 6840 5.7, 5.8) only when that resolver runs
// on this host (loopback) or is listed in Options.DNSSECTrusted. An
// answer from any other server is Insecure whatever its AD bit says: on
// the way from an untrusted server anyone could have set it.

// MXResult is LookupMXDNSSEC's answer.
type MXResult struct {
	MX     []*net.MX     // as LookupMX gives them; nil with a "not found" error
	Secure bool          // the MX RRset (or its denial) was DNSSEC-validated
	TTL    time.Duration // as LookupMXWithTTL
}

// AddrResult is LookupIPAddrDNSSEC's answer.
type AddrResult struct {
	Addrs []net.IPAddr // IPv4 first, as LookupIPAddr
	// Secure: both the A and the AAAA answers (records or denial) were
	// DNSSEC-validated, CNAMEs on the way included (AD covers the whole
	// reply). An address literal or "localhost" is never secure.
	Secure bool
	// Name is where the CNAME chain ended: the owner of the addresses,
	// absolute and in lower case; the host itself (absolute) when there
	// was no CNAME or the A and AAAA chains ended at different names;
	// "" for a literal or localhost. RFC 7672 2.2.2 lets DANE use it as
	// a TLSA base domain when Secure.
	Name string
	TTL  time.Duration
}

// TLSAResult is LookupTLSA's answer.
type TLSAResult struct {
	Name string // the name asked ("_25._tcp.mx.example.org."), absolute
	// Records holds the RDATA of each TLSA record (RFC 6698 2.1: usage,
	// selector, matching type octets, then the certificate association
	// data), uninterpreted: internal/dane parses and judges them.
	Records [][]byte
	Secure  bool // the TLSA RRset (or its denial) was DNSSEC-validated
	TTL     time.Duration
}

// ParseTrusted reads a list of trusted validating resolvers for
// Options.DNSSECTrusted: each an IP address or a CIDR prefix. IPv4
// addresses written as IPv6 (::ffff:192.0.2.1) are read as IPv4, as the
// servers' addresses are compared.
func ParseTrusted(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				// The servers' addresses are compared unmapped.
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted DNSSEC resolver %q: want an IP address or a CIDR prefix", s)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// trustRule is the test behind Client.trusted: loopback, or a listed
// prefix.
func trustRule(list []netip.Prefix) func(netip.Addr) bool {
	list = append([]netip.Prefix(nil), list...)
	return func(a netip.Addr) bool {
		if a.IsLoopback() {
			return true
		}
		for _, p := range list {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}

// trusted reports whether the AD bit of server ("ip:port") is believed.
func (c *Client) trusted(server string) bool {
	ap, err := netip.ParseAddrPort(server)
	if err != nil || c.trust == nil {
		return false
	}
	return c.trust(ap.Addr().Unmap().WithZone(""))
}

// LookupMXDNSSEC is LookupMX with the answer's DNSSEC status.
func (c *Client) LookupMXDNSSEC(ctx context.Context, name string) (MXResult, error) {
	fqdn, err := checkName(name)
	if err != nil {
		return MXResult{}, err
	}
	a, err := c.queryDNSSEC(ctx, name, fqdn, dns.TypeMX, true)
	if err != nil {
		return MXResult{Secure: a.secure, TTL: a.ttl}, err
	}
	mx, err := mxRecords(name, a.rrs)
	if err != nil {
		return MXResult{}, err
	}
	return MXResult{MX: mx, Secure: a.secure, TTL: a.ttl}, nil
}

// LookupIPAddrDNSSEC is LookupIPAddr with the answer's DNSSEC status and
// the name its CNAME chain ended at.
func (c *Client) LookupIPAddrDNSSEC(ctx context.Context, host string) (AddrResult, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return AddrResult{Addrs: []net.IPAddr{{IP: ip.AsSlice(), Zone: ip.Zone()}}, TTL: -1}, nil
	}
	if isLocalhost(host) {
		return AddrResult{Addrs: append([]net.IPAddr(nil), loopbackAddrs...), TTL: -1}, nil
	}
	fqdn, err := checkName(host)
	if err != nil {
		return AddrResult{}, err
	}
	a, err := c.queryAddrs(ctx, host, fqdn, true)
	if err != nil {
		return AddrResult{Secure: a.secure, TTL: a.ttl}, err
	}
	res := AddrResult{Addrs: a.ips, Secure: a.secure, Name: a.owner, TTL: a.ttl}
	if res.Name == "" {
		res.Name = dns.CanonicalName(fqdn)
	}
	return res, nil
}

// TLSAName is the owner name of the TLSA records for a service (RFC 6698
// 3): "_25._tcp.mx.example.org." for port 25, proto "tcp" and host
// "mx.example.org".
func TLSAName(port int, proto, host string) (string, error) {
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("TLSA name: port %d out of range", port)
	}
	if host == "" || host == "." {
		return "", fmt.Errorf("TLSA name: empty host")
	}
	if proto == "" || strings.ContainsAny(proto, ". ") {
		return "", fmt.Errorf("TLSA name: bad protocol %q", proto)
	}
	name := "_" + strconv.Itoa(port) + "._" + strings.ToLower(proto) + "." + host
	fqdn, err := checkName(name)
	if err != nil {
		return "", fmt.Errorf("TLSA name for host %q: not a valid name", host)
	}
	return fqdn, nil
}

// LookupTLSA asks for the TLSA records of host's service port/proto
// (TLSAName), with their DNSSEC status. CNAMEs at the TLSA name are
// followed (RFC 7671 7); the answer is secure only when the whole reply
// was validated.
func (c *Client) LookupTLSA(ctx context.Context, port int, proto, host string) (TLSAResult, error) {
	fqdn, err := TLSAName(port, proto, host)
	if err != nil {
		return TLSAResult{}, &net.DNSError{Err: err.Error(), Name: host, IsNotFound: true}
	}
	a, err := c.queryDNSSEC(ctx, fqdn, fqdn, dns.TypeTLSA, true)
	res := TLSAResult{Name: fqdn, Secure: a.secure, TTL: a.ttl}
	if err != nil {
		return res, err
	}
	res.Records = tlsaRData(a.rrs)
	return res, nil
}

// tlsaRData gives each TLSA record's RDATA in wire form. Association
// data that is not hex (which miekg/dns never produces from the wire)
// is left empty, so that the record is judged unusable rather than
// dropped.
func tlsaRData(rrs []dns.RR) [][]byte {
	var out [][]byte
	for _, rr := range rrs {
		t, ok := rr.(*dns.TLSA)
		if !ok {
			continue
		}
		data, err := hex.DecodeString(t.Certificate)
		if err != nil {
			data = nil
		}
		b := make([]byte, 0, 3+len(data))
		b = append(b, t.Usage, t.Selector, t.MatchingType)
		out = append(out, append(b, data...))
	}
	return out
}
