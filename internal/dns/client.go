package dns

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Client is the resolver New returns: it asks the configured servers
// directly and reports exactly what they said. Safe for concurrent use.
type Client struct {
	servers  []string    // fixed list; nil when conf is used
	conf     *resolvConf // the system servers
	timeout  time.Duration
	attempts int
	// trust says whether a server's AD bit is believed (see
	// Options.DNSSECTrusted): loopback servers and those listed.
	trust func(netip.Addr) bool
}

const (
	defaultTimeout = 5 * time.Second
	// Rounds over the server list for servers that gave no reply.
	attempts = 2
	// RFC 9715 (DNS flag day 2020): 1232 octets avoid IP fragmentation.
	ednsBufSize = 1232
)

func newClient(opt Options) *Client {
	c := &Client{timeout: opt.Timeout, attempts: attempts, trust: trustRule(opt.DNSSECTrusted)}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	for _, s := range opt.Servers {
		// Host names are skipped: finding them would need DNS.
		if a, ok := normalizeServer(s); ok {
			c.servers = append(c.servers, a)
		}
	}
	if len(opt.Servers) == 0 {
		path := opt.ResolvConf
		if path == "" {
			path = "/etc/resolv.conf"
		}
		c.conf = &resolvConf{path: path}
	}
	return c
}

func (c *Client) serverList() []string {
	if c.conf != nil {
		return c.conf.get()
	}
	return c.servers
}

// exchange asks the servers for fqdn/qtype until one gives a final
// answer (NOERROR or NXDOMAIN). The servers are tried in random order;
// one that answered with another code (SERVFAIL, REFUSED, ...) is not
// asked again in this lookup, one that gave no reply is, up to
// c.attempts times. name is the caller's name, for errors. With dnssec
// set the query asks for the answer's DNSSEC status: the DO bit
// (RFC 3225) and the AD bit (RFC 6840 5.7).
func (c *Client) exchange(ctx context.Context, name, fqdn string, qtype uint16, dnssec bool) (*dns.Msg, string, error) {
	servers := c.serverList()
	if len(servers) == 0 {
		return nil, "", &net.DNSError{Err: errNoServers, Name: name, IsTemporary: true}
	}
	q := new(dns.Msg)
	q.SetQuestion(fqdn, qtype) // a random ID (miekg/dns), RD set
	q.RecursionDesired = true
	q.SetEdns0(ednsBufSize, dnssec)
	q.AuthenticatedData = dnssec

	order := rand.Perm(len(servers))
	done := make([]bool, len(servers))
	var last error
	for round := 0; round < c.attempts; round++ {
		for _, i := range order {
			if done[i] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, "", contextError(name, err)
			}
			server := servers[i]
			r, err := c.ask(ctx, q, server)
			if err != nil {
				if ctx.Err() != nil {
					return nil, "", contextError(name, ctx.Err())
				}
				last = transportError(name, server, err)
				continue
			}
			switch r.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return r, server, nil
			}
			// RFC 1035 4.1.1: SERVFAIL, REFUSED and the rest say nothing
			// about the name: a temporary failure, unless another server
			// answers.
			done[i] = true
			last = rcodeError(name, server, r.Rcode)
		}
	}
	return nil, "", last
}

// ask sends q to one server over UDP, again over TCP when the reply is
// truncated, each try bounded by the per-query timeout.
func (c *Client) ask(ctx context.Context, q *dns.Msg, server string) (*dns.Msg, error) {
	r, err := c.askOnce(ctx, q, server, "udp")
	if err != nil {
		return nil, err
	}
	if r.Truncated {
		// RFC 7766 5: a truncated UDP reply is asked again over TCP.
		return c.askOnce(ctx, q, server, "tcp")
	}
	if r.Rcode == dns.RcodeFormatError && r.IsEdns0() == nil {
		// RFC 6891 7: a server that does not know EDNS answers FORMERR
		// without an OPT record; ask it again without one.
		plain := q.Copy()
		plain.Extra = nil
		plain.Id = dns.Id()
		return c.askOnce(ctx, plain, server, "udp")
	}
	return r, nil
}

func (c *Client) askOnce(ctx context.Context, q *dns.Msg, server, network string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl := &dns.Client{Net: network, UDPSize: ednsBufSize, Timeout: c.timeout}
	// miekg/dns sends from a fresh socket (a random source port) and
	// skips replies whose ID is not the query's.
	r, _, err := cl.ExchangeContext(ctx, q, server)
	if err != nil {
		return nil, err
	}
	if err := matchReply(q, r); err != nil {
		return nil, err
	}
	return r, nil
}

var errMismatch = errors.New("reply does not match the query")

// matchReply checks that r answers q: same ID, a response, same question.
func matchReply(q, r *dns.Msg) error {
	if r.Id != q.Id || !r.Response {
		return errMismatch
	}
	// RFC 5452 9.1: accept only a reply to the question asked.
	if len(r.Question) != 1 {
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError && len(r.Question) == 0 {
			return nil // some servers drop the question in error replies
		}
		return errMismatch
	}
	a, b := q.Question[0], r.Question[0]
	if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !strings.EqualFold(a.Name, b.Name) {
		return errMismatch
	}
	return nil
}
