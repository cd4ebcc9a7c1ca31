package reputation

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"postern/internal/dns"
	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// RDNSPolicy says what happens to a client whose reverse DNS does not
// confirm its address.
type RDNSPolicy int

const (
	// RDNSOff does no lookup.
	RDNSOff RDNSPolicy = iota
	// RDNSTag looks the name up for the Received header and the log only.
	RDNSTag
	// RDNSTempFail answers RCPT with 450 4.7.25 (the client may retry
	// once its DNS is fixed).
	RDNSTempFail
	// RDNSReject answers RCPT with 550 5.7.25 (450 on a DNS failure).
	RDNSReject
)

// ParseRDNSPolicy maps the configuration word to a policy.
func ParseRDNSPolicy(s string) (RDNSPolicy, bool) {
	switch s {
	case "off":
		return RDNSOff, true
	case "tag":
		return RDNSTag, true
	case "tempfail":
		return RDNSTempFail, true
	case "reject":
		return RDNSReject, true
	}
	return RDNSOff, false
}

// RDNSResolver is what the reverse DNS check needs.
type RDNSResolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// RDNS checks forward-confirmed reverse DNS: a PTR name of the client
// whose A/AAAA records hold the client address. A confirmed name becomes
// Conn.ClientName (shown in the Received header). Refusals come at RCPT,
// never to postmaster, like Postfix's reject_unknown_client_hostname.
type RDNS struct {
	Resolver RDNSResolver
	Log      *slog.Logger
	Policy   map[string]RDNSPolicy // by listener name; absent means off
	Exempt   Exempt
	// SkipLoopback leaves loopback clients unlooked-up: with the system
	// resolver their reverse zone is answered locally (RFC 6303 4.2)
	// or sent to an upstream server that knows nothing of them.
	SkipLoopback bool
}

// RDNSStatus is the outcome of the lookups.
type RDNSStatus int

const (
	// Confirmed: a PTR name resolves back to the client address.
	Confirmed RDNSStatus = iota + 1
	// NoPTR: the address has no PTR record.
	NoPTR
	// Mismatch: no PTR name resolves back to the address.
	Mismatch
	// DNSFailure: a lookup failed; the answer is unknown.
	DNSFailure
)

func (s RDNSStatus) String() string {
	switch s {
	case Confirmed:
		return "confirmed"
	case NoPTR:
		return "no PTR record"
	case Mismatch:
		return "PTR name does not resolve back to the address"
	case DNSFailure:
		return "DNS lookup failed"
	}
	return "unknown"
}

// maxPTRNames bounds the names tried (Postfix tries a few too).
const maxPTRNames = 10

// ConfirmName looks ip's PTR names up and returns the first whose
// forward records hold ip.
func ConfirmName(ctx context.Context, r RDNSResolver, ip netip.Addr) (string, RDNSStatus, error) {
	ip = ip.Unmap()
	names, err := r.LookupAddr(ctx, ip.String())
	if err != nil {
		if dns.IsNotFound(err) {
			return "", NoPTR, nil
		}
		return "", DNSFailure, err
	}
	if len(names) == 0 {
		return "", NoPTR, nil
	}
	var lastErr error
	for i, name := range names {
		if i == maxPTRNames {
			break
		}
		addrs, err := r.LookupIPAddr(ctx, name)
		if err != nil {
			if !dns.IsNotFound(err) {
				lastErr = err
			}
			continue
		}
		for _, a := range addrs {
			if ad, ok := netip.AddrFromSlice(a.IP); ok && ad.Unmap() == ip {
				return strings.TrimSuffix(strings.ToLower(name), "."), Confirmed, nil
			}
		}
	}
	if lastErr != nil {
		return "", DNSFailure, lastErr
	}
	return "", Mismatch, nil
}

type rdnsKey struct{}

type rdnsResult struct {
	status RDNSStatus
	err    error
}

// CheckConnect implements inbound.ConnectChecker: it looks the name up.
func (r *RDNS) CheckConnect(ctx context.Context, c *inbound.Conn) *inbound.Verdict {
	pol := r.Policy[c.Listener]
	ip := c.IP().Unmap()
	if pol == RDNSOff || r.Exempt.Addr(ip) || r.SkipLoopback && ip.IsLoopback() {
		return nil
	}
	name, st, err := ConfirmName(ctx, r.Resolver, ip)
	if st == Confirmed {
		c.ClientName = name
	}
	c.Values[rdnsKey{}] = rdnsResult{st, err}
	if r.Log != nil && st != Confirmed {
		r.Log.InfoContext(ctx, "rdns", "conn", c.ID, "client", ip.String(), "status", st.String(), "err", err)
	}
	return nil
}

// CheckRcpt implements inbound.RcptChecker: it applies the policy.
func (r *RDNS) CheckRcpt(ctx context.Context, t *inbound.Txn, to smtp.Path, _ *envelope.Recipient) *inbound.Verdict {
	res, ok := t.Conn.Values[rdnsKey{}].(rdnsResult)
	if !ok || res.status == Confirmed || t.Conn.AuthUser != "" || isPostmaster(to) {
		return nil
	}
	pol := r.Policy[t.Conn.Listener]
	ip := t.Conn.IP().Unmap()
	rule := fmt.Sprintf("reverse DNS of %s: %s", ip, res.status)
	switch {
	case pol == RDNSReject && res.status != DNSFailure:
		// RFC 7372 3: 5.7.25, the reverse DNS validation failed.
		return &inbound.Verdict{Rule: rule, Reply: &smtp.Reply{Code: 550, Enhanced: "5.7.25",
			Text: fmt.Sprintf("reverse DNS of %s does not confirm it (%s)", ip, res.status)}}
	case pol == RDNSReject, pol == RDNSTempFail:
		// RFC 7372 3: 4.7.25 for a validation that may pass later.
		return &inbound.Verdict{Rule: rule, Reply: &smtp.Reply{Code: 450, Enhanced: "4.7.25",
			Text: fmt.Sprintf("reverse DNS of %s does not confirm it (%s), try again later", ip, res.status), Err: res.err}}
	}
	return nil
}
