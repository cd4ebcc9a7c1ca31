package dnsbl

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"postern/internal/dns"
)

// Resolver is what a lookup needs from DNS.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// List is one block list.
type List struct {
	Zone  string // "zen.spamhaus.org"
	Codes Codes  // answers that count
	// Reply is the text a listed client is told, with {ip} (the client
	// address) and {zone}; sendmail's $&{client_addr} works too. "" means
	// DefaultReply.
	Reply string
	// TempFail answers a DNS failure with a temporary error (enhdnsbl's
	// "t"); otherwise the failure is logged and the list skipped.
	TempFail bool
}

// DefaultReply is sendmail's text for a listed client.
const DefaultReply = "Rejected: {ip} listed at {zone}"

// Result is the outcome of looking one address up in one list.
type Result struct {
	List    *List
	Listed  bool
	Answers []netip.Addr // every A record the list returned
	Err     error        // a DNS failure (not "not listed")
}

// Lookup asks the list about ip. A name that does not exist means "not
// listed"; answers outside the list's codes do not count.
func (l *List) Lookup(ctx context.Context, r Resolver, ip netip.Addr) Result {
	res := Result{List: l}
	addrs, err := r.LookupIPAddr(ctx, QueryName(ip, l.Zone))
	if err != nil {
		if dns.IsNotFound(err) {
			return res
		}
		res.Err = fmt.Errorf("dnsbl %s: %w", l.Zone, err)
		return res
	}
	for _, a := range addrs {
		ad, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ad = ad.Unmap()
		if !ad.Is4() {
			continue
		}
		res.Answers = append(res.Answers, ad)
		if l.Codes.Match(ad) {
			res.Listed = true
		}
	}
	return res
}

// Text returns the list's reply text for ip: the template with the
// client address and zone filled in.
func (l *List) Text(ip netip.Addr) string {
	t := l.Reply
	if t == "" {
		t = DefaultReply
	}
	a := ip.Unmap().String()
	t = strings.ReplaceAll(t, "{ip}", a)
	t = strings.ReplaceAll(t, "$&{client_addr}", a)
	t = strings.ReplaceAll(t, "{zone}", strings.TrimSuffix(l.Zone, "."))
	return t
}

// CheckReply validates a reply template: printable ASCII only, one line,
// at most 400 characters (a reply line is at most 512 octets, RFC 5321
// 4.5.3.1.5, with the code and the address in it).
func CheckReply(t string) error {
	if len(t) > 400 {
		return fmt.Errorf("reply text longer than 400 characters")
	}
	for i := 0; i < len(t); i++ {
		if t[i] < 0x20 || t[i] > 0x7e {
			return fmt.Errorf("reply text has a control or non-ASCII character at %d", i)
		}
	}
	return nil
}

// LookupAll asks every list at once and returns the results in list
// order.
func LookupAll(ctx context.Context, r Resolver, lists []*List, ip netip.Addr) []Result {
	out := make([]Result, len(lists))
	if len(lists) == 1 {
		out[0] = lists[0].Lookup(ctx, r, ip)
		return out
	}
	done := make(chan struct{}, len(lists))
	for i, l := range lists {
		go func() {
			out[i] = l.Lookup(ctx, r, ip)
			done <- struct{}{}
		}()
	}
	for range lists {
		<-done
	}
	return out
}

// CheckZone validates a list's zone name.
func CheckZone(z string) error {
	z = strings.TrimSuffix(z, ".")
	if z == "" {
		return fmt.Errorf("zone is empty")
	}
	if len(z) > 200 {
		return fmt.Errorf("zone %q is too long", truncate(z))
	}
	for _, label := range strings.Split(z, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("zone %q has an empty or over-long label", truncate(z))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("zone %q has a character not allowed in a DNS name", truncate(z))
			}
		}
	}
	return nil
}
