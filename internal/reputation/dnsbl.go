package reputation

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"postern/internal/dnsbl"
	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// DNSBL refuses clients listed in DNS block lists. The lookups start when
// the client connects; the refusal comes at connect (554, AtConnect) or,
// by default, at each RCPT except to postmaster, like Postfix's
// reject_rbl_client, so a listed sender can still reach a human.
type DNSBL struct {
	Lists     []*dnsbl.List
	Resolver  dnsbl.Resolver
	Log       *slog.Logger
	Listeners map[string]bool // listener names the check runs on
	AtConnect bool
	Exempt    Exempt
	// Hits counts listed clients by zone (Prometheus); nil for none.
	Hits HitCounter
}

// HitCounter counts block-list hits.
type HitCounter interface {
	DNSBLHit(zone string)
}

type dnsblKey struct{}

// dnsblPending is the lookup under way for one connection.
type dnsblPending struct {
	done    chan struct{}
	results []dnsbl.Result
	verdict *inbound.Verdict // decided at first use
	decided bool
}

// CheckConnect implements inbound.ConnectChecker.
func (d *DNSBL) CheckConnect(ctx context.Context, c *inbound.Conn) *inbound.Verdict {
	if len(d.Lists) == 0 || !d.Listeners[c.Listener] || d.Exempt.Addr(c.IP()) {
		return nil
	}
	p := &dnsblPending{done: make(chan struct{})}
	if d.AtConnect {
		p.results = dnsbl.LookupAll(ctx, d.Resolver, d.Lists, c.IP())
		close(p.done)
		v := d.decide(ctx, c, p)
		if v != nil {
			v.Disconnect = true
			if v.Reply.Permanent() {
				// RFC 5321 3.1: a server refusing service at connect answers 554.
				v.Reply.Code = 554
			} else {
				// RFC 5321 3.8: 421 for a temporary refusal at connect.
				v.Reply.Code = 421
			}
		}
		return v
	}
	// Ask now, decide at RCPT: the answers arrive while the client talks.
	go func() {
		p.results = dnsbl.LookupAll(ctx, d.Resolver, d.Lists, c.IP())
		close(p.done)
	}()
	c.Values[dnsblKey{}] = p
	return nil
}

// CheckRcpt implements inbound.RcptChecker.
func (d *DNSBL) CheckRcpt(ctx context.Context, t *inbound.Txn, to smtp.Path, _ *envelope.Recipient) *inbound.Verdict {
	p, ok := t.Conn.Values[dnsblKey{}].(*dnsblPending)
	if !ok || t.Conn.AuthUser != "" || isPostmaster(to) {
		return nil
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil
	}
	if !p.decided {
		p.verdict, p.decided = d.decide(ctx, t.Conn, p), true
	}
	if p.verdict == nil {
		return nil
	}
	v := *p.verdict
	return &v
}

// decide turns the results into a verdict: the first list that lists the
// client refuses; else the first DNS failure of a list with TempFail.
func (d *DNSBL) decide(ctx context.Context, c *inbound.Conn, p *dnsblPending) *inbound.Verdict {
	ip := c.IP().Unmap()
	var temp *inbound.Verdict
	for _, r := range p.results {
		switch {
		case r.Listed:
			if d.Hits != nil {
				d.Hits.DNSBLHit(strings.TrimSuffix(r.List.Zone, "."))
			}
			if d.Log != nil {
				d.Log.InfoContext(ctx, "dnsbl listed", "conn", c.ID, "client", ip.String(), "zone", r.List.Zone, "answers", fmt.Sprint(r.Answers))
			}
			return &inbound.Verdict{
				Reply: &smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: r.List.Text(ip)},
				Rule:  fmt.Sprintf("dnsbl %s lists %s (%s)", r.List.Zone, ip, joinAddrs(r.Answers)),
			}
		case r.Err != nil:
			if d.Log != nil {
				d.Log.WarnContext(ctx, "dnsbl lookup failed", "conn", c.ID, "client", ip.String(), "zone", r.List.Zone, "err", r.Err, "tempfail", r.List.TempFail)
			}
			if r.List.TempFail && temp == nil {
				// sendmail enhdnsbl with "t": defer on a temporary lookup failure.
				temp = &inbound.Verdict{
					Reply: &smtp.Reply{Code: 451, Enhanced: "4.7.1",
						Text: fmt.Sprintf("Temporary lookup failure of %s at %s", ip, strings.TrimSuffix(r.List.Zone, ".")), Err: r.Err},
					Rule: fmt.Sprintf("dnsbl %s lookup failed", r.List.Zone),
				}
			}
		}
	}
	return temp
}

func joinAddrs[T fmt.Stringer](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return strings.Join(s, " ")
}
