package dns

import (
	"context"
	"net"
	"strconv"
	"time"
)

// The DNSSEC lookups of a Cache keep their answers apart from the plain
// ones (a secure and an insecure answer for one name are different
// answers), by the TTL their result carries, at most CacheOptions.TTL.
// Failures are not kept. When the wrapped resolver has no DNSSEC lookups
// (*net.Resolver), MX and address answers come from its plain lookups
// and are Insecure, and a TLSA lookup is an insecure "not found": DANE
// does not apply, as with a resolver that does not validate.

const errNoDNSSEC = "resolver cannot ask for DNSSEC status"

// LookupMXDNSSEC implements DNSSECResolver.
func (c *Cache) LookupMXDNSSEC(ctx context.Context, name string) (MXResult, error) {
	v, err := c.do(ctx, cacheKey{'M', name}, func() (any, time.Duration, error) {
		if dr, ok := c.r.(DNSSECResolver); ok {
			res, err := dr.LookupMXDNSSEC(ctx, name)
			return res, res.TTL, err
		}
		mx, err := c.r.LookupMX(ctx, name)
		return MXResult{MX: mx, TTL: noTTL}, noTTL, err
	})
	res, _ := v.(MXResult)
	mx := make([]*net.MX, len(res.MX))
	for i, m := range res.MX {
		cp := *m
		mx[i] = &cp
	}
	if res.MX == nil {
		mx = nil
	}
	res.MX = mx
	return res, err
}

// LookupIPAddrDNSSEC implements DNSSECResolver.
func (c *Cache) LookupIPAddrDNSSEC(ctx context.Context, host string) (AddrResult, error) {
	v, err := c.do(ctx, cacheKey{'I', host}, func() (any, time.Duration, error) {
		if dr, ok := c.r.(DNSSECResolver); ok {
			res, err := dr.LookupIPAddrDNSSEC(ctx, host)
			return res, res.TTL, err
		}
		ips, err := c.r.LookupIPAddr(ctx, host)
		return AddrResult{Addrs: ips, TTL: noTTL}, noTTL, err
	})
	res, _ := v.(AddrResult)
	if res.Addrs != nil {
		res.Addrs = append([]net.IPAddr(nil), res.Addrs...)
	}
	return res, err
}

// LookupTLSA implements DNSSECResolver.
func (c *Cache) LookupTLSA(ctx context.Context, port int, proto, host string) (TLSAResult, error) {
	key := strconv.Itoa(port) + "/" + proto + "/" + host
	v, err := c.do(ctx, cacheKey{'T', key}, func() (any, time.Duration, error) {
		if dr, ok := c.r.(DNSSECResolver); ok {
			res, err := dr.LookupTLSA(ctx, port, proto, host)
			return res, res.TTL, err
		}
		name, _ := TLSAName(port, proto, host)
		return TLSAResult{Name: name, TTL: noTTL}, noTTL,
			&net.DNSError{Err: errNoDNSSEC, Name: name, IsNotFound: true}
	})
	res, _ := v.(TLSAResult)
	if res.Records != nil {
		recs := make([][]byte, len(res.Records))
		for i, r := range res.Records {
			recs[i] = append([]byte(nil), r...)
		}
		res.Records = recs
	}
	return res, err
}
