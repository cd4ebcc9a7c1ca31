package deliver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"

	"postern/internal/dns"
	"postern/internal/smtp"
)

// target is one server address to try.
type target struct {
	name string // host name (TLS server name, logs); the address text for a literal
	ip   netip.Addr
	port int
	// mxSecure: the name came from a DNSSEC-validated MX answer or from
	// the operator's route (see Server.MXSecure).
	mxSecure bool
}

func (t target) addr() string { return net.JoinHostPort(t.ip.String(), fmt.Sprint(t.port)) }

// maxTargets bounds the addresses tried in one delivery attempt (as
// Postfix's smtp_mx_address_limit, a little more generous).
const maxTargets = 10

// Replies for routing failures.
var (
	// RFC 7505 4.1: a null MX means the domain accepts no mail.
	replyNullMX = &smtp.Reply{Code: 556, Enhanced: "5.1.10", Text: "recipient domain does not accept mail (null MX)"}
	// RFC 3463 3.2: X.1.2 bad destination system address.
	replyNoDomain = &smtp.Reply{Code: 550, Enhanced: "5.1.2", Text: "recipient domain not found"}
	// RFC 3463 3.5: X.4.4 unable to route.
	replyNoRoute   = &smtp.Reply{Code: 550, Enhanced: "5.4.4", Text: "no address for the recipient domain's mail servers"}
	replyDNSTemp   = &smtp.Reply{Code: 451, Enhanced: "4.4.3", Text: "DNS lookup failed, will try again"}
	replyLoopsBack = &smtp.Reply{Code: 554, Enhanced: "5.4.6", Text: "mail for this domain loops back to this server"}
)

// mxHost is one MX record.
type mxHost struct {
	name   string
	pref   int
	port   int
	secure bool // from a DNSSEC-validated answer, or the operator's route
}

// targets resolves a destination into the ordered addresses to try.
func (r *Remote) targets(ctx context.Context, dest Destination) ([]target, error) {
	hosts, err := r.hosts(ctx, dest)
	if err != nil {
		return nil, err
	}
	return r.addresses(ctx, dest, hosts)
}

// hosts are the servers of dest in the order to try them: its hops (an
// MX lookup for those without brackets), else the domain's MX hosts
// better than this one.
func (r *Remote) hosts(ctx context.Context, dest Destination) ([]mxHost, error) {
	if len(dest.Hops) == 0 {
		mx, err := r.lookupMX(ctx, dest.Domain)
		if err != nil {
			return nil, err
		}
		for i := range mx {
			mx[i].port = r.Port
		}
		return r.betterThanSelf(dest, mx)
	}
	var hosts []mxHost
	for _, h := range dest.Hops {
		port := h.Port
		if port == 0 {
			port = r.Port
		}
		if h.NoMX {
			hosts = append(hosts, mxHost{name: h.Host, port: port, secure: true})
			continue
		}
		mx, err := r.lookupMX(ctx, h.Host)
		if err != nil {
			return nil, err
		}
		for _, m := range mx {
			m.port = port
			hosts = append(hosts, m)
		}
	}
	return hosts, nil
}

// betterThanSelf keeps, when we are one of the MX hosts, only the hosts
// more preferred than we are (RFC 5321 5.1); none left is a loop.
func (r *Remote) betterThanSelf(dest Destination, hosts []mxHost) ([]mxHost, error) {
	self := -1
	for _, h := range hosts {
		if strings.EqualFold(h.name, r.Hostname) && (self < 0 || h.pref < self) {
			self = h.pref
		}
	}
	if self < 0 {
		return hosts, nil
	}
	hosts = slices.DeleteFunc(hosts, func(h mxHost) bool { return h.pref >= self })
	if len(hosts) == 0 {
		return nil, replyLoopsBack.With(fmt.Errorf("%s: this host (%s) is the best MX", dest.Domain, r.Hostname))
	}
	return hosts, nil
}

// addresses looks up the hosts' addresses, at most maxTargets in all,
// leaving out our own listeners.
func (r *Remote) addresses(ctx context.Context, dest Destination, hosts []mxHost) ([]target, error) {
	var out []target
	var tempErr, lastErr error
	selfSeen := false
	add := func(t target) {
		if r.isSelf(t) {
			selfSeen = true
		} else if len(out) < maxTargets {
			out = append(out, t)
		}
	}
	for _, h := range hosts {
		if len(out) >= maxTargets {
			break
		}
		if a, err := netip.ParseAddr(h.name); err == nil {
			add(target{name: a.String(), ip: a.Unmap(), port: h.port, mxSecure: h.secure})
			continue
		}
		addrs, err := r.Resolver.LookupIPAddr(ctx, h.name)
		if err != nil {
			if dns.IsTemporary(err) {
				tempErr = err
			}
			lastErr = err
			continue
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				add(target{name: h.name, ip: ip.Unmap(), port: h.port, mxSecure: h.secure})
			}
		}
	}
	switch {
	case len(out) > 0:
		return out, nil
	case selfSeen:
		return nil, replyLoopsBack.With(fmt.Errorf("%s: next hop is one of our own listeners", dest.key()))
	case tempErr != nil:
		return nil, replyDNSTemp.With(tempErr)
	case lastErr != nil:
		return nil, replyNoRoute.With(fmt.Errorf("%s: %w", dest.key(), lastErr))
	}
	return nil, replyNoRoute.With(fmt.Errorf("%s: no hosts", dest.key()))
}

func (r *Remote) isSelf(t target) bool {
	return r.IsSelf != nil && r.IsSelf(t.ip, t.port)
}

// lookupMX returns the MX hosts of domain in the order to try them.
func (r *Remote) lookupMX(ctx context.Context, domain string) ([]mxHost, error) {
	if a, ok := literalAddr(domain); ok {
		// RFC 5321 5.1: an address literal is the host itself.
		return []mxHost{{name: a.String()}}, nil
	}
	mx, secure, err := r.mxRecords(ctx, domain)
	if err != nil && !dns.IsNotFound(err) {
		return nil, replyDNSTemp.With(fmt.Errorf("MX %s: %w", domain, err))
	}
	// RFC 7505 3: a single MX record with an empty (".") target is a
	// null MX: the domain accepts no mail.
	if len(mx) == 1 && (mx[0].Host == "." || mx[0].Host == "") {
		return nil, replyNullMX.With(fmt.Errorf("%s has a null MX", domain))
	}
	var hosts []mxHost
	for _, m := range mx {
		name := strings.ToLower(strings.TrimSuffix(m.Host, "."))
		if name == "" {
			continue // RFC 7505 3: a null MX among others is ignored
		}
		hosts = append(hosts, mxHost{name: name, pref: int(m.Pref), secure: secure})
	}
	if len(hosts) == 0 {
		// RFC 5321 5.1: no MX records: the domain itself is the only
		// host, as if it had an MX with preference 0 (its A/AAAA).
		addrs, err := r.Resolver.LookupIPAddr(ctx, domain)
		switch {
		case err == nil && len(addrs) > 0:
			return []mxHost{{name: strings.ToLower(strings.TrimSuffix(domain, ".")), secure: secure}}, nil
		case err != nil && !dns.IsNotFound(err):
			return nil, replyDNSTemp.With(fmt.Errorf("A/AAAA %s: %w", domain, err))
		}
		return nil, replyNoDomain.With(fmt.Errorf("%s has no MX and no address", domain))
	}
	orderMX(hosts)
	return hosts, nil
}

// mxRecords looks up domain's MX records, with their DNSSEC status when
// r.DNSSEC is set and the resolver can tell (for DANE); secure covers a
// validated denial too.
func (r *Remote) mxRecords(ctx context.Context, domain string) (mx []*net.MX, secure bool, err error) {
	if dr, ok := r.Resolver.(dns.DNSSECResolver); ok && r.DNSSEC {
		res, err := dr.LookupMXDNSSEC(ctx, domain)
		return res.MX, res.Secure, err
	}
	mx, err = r.Resolver.LookupMX(ctx, domain)
	return mx, false, err
}

// orderMX sorts by preference, lowest first, and shuffles hosts of equal
// preference (RFC 5321 5.1: the sender must randomise them to spread the
// load).
func orderMX(hosts []mxHost) {
	slices.SortStableFunc(hosts, func(a, b mxHost) int { return a.pref - b.pref })
	for i := 0; i < len(hosts); {
		j := i + 1
		for j < len(hosts) && hosts[j].pref == hosts[i].pref {
			j++
		}
		run := hosts[i:j]
		rand.Shuffle(len(run), func(a, b int) { run[a], run[b] = run[b], run[a] })
		i = j
	}
}

// literalAddr reads "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func literalAddr(d string) (netip.Addr, bool) {
	a, err := smtp.ParseAddressLiteral(d)
	return a, err == nil
}
