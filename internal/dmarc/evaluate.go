package dmarc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"

	pdns "postern/internal/dns"
)

// Value is the DMARC result as written in Authentication-Results
// (RFC 7489 11.2).
type Value string

// The DMARC results.
const (
	ValuePass      Value = "pass"
	ValueFail      Value = "fail"
	ValueNone      Value = "none"
	ValueTempError Value = "temperror"
	ValuePermError Value = "permerror"
)

// DKIMResult is one verified (or failed) DKIM signature.
type DKIMResult struct {
	Domain   string // the signature's d= domain
	Selector string // s=
	Result   string // "pass", "fail", "neutral", "temperror", "permerror", "policy", "none"
}

// Input is everything DMARC needs to know about one message.
type Input struct {
	FromDomain   string       // the RFC5322.From domain
	SPFResult    string       // "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"
	SPFDomain    string       // the domain SPF checked (MAIL FROM domain, or the HELO name for <>)
	SPFScope     string       // "mfrom" (default) or "helo"
	DKIM         []DKIMResult // every signature checked
	SourceIP     netip.Addr   // the SMTP client
	ClientHost   string       // its verified reverse DNS name, "" if none
	EnvelopeFrom string       // RFC5321.MailFrom domain, for reports ("" for <>)
	EnvelopeTo   string       // first recipient domain, for reports (optional)
	Local        LocalPolicy  // local overrides
}

// LocalPolicy holds the receiver's own overrides.
type LocalPolicy struct {
	// TrustedForwarders are client networks whose DMARC failures are not
	// enforced (reason trusted_forwarder), e.g. a mailing list host or a
	// forwarding service that breaks SPF and DKIM.
	TrustedForwarders []netip.Prefix
	// TrustedHosts are verified client host names treated the same way;
	// a leading dot (".example.net") matches every name below it.
	TrustedHosts []string
	// Rand decides pct sampling; nil means math/rand/v2. Tests pass a
	// seeded *rand.Rand.
	Rand interface{ IntN(n int) int }
}

// ParseTrusted builds the trusted-forwarder lists from configuration
// entries: an IP address, a CIDR network, or a host name.
func ParseTrusted(entries []string) (nets []netip.Prefix, hosts []string, err error) {
	var errs []error
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, perr := netip.ParsePrefix(e); perr == nil {
			nets = append(nets, p.Masked())
			continue
		}
		if a, aerr := netip.ParseAddr(e); aerr == nil {
			nets = append(nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		h := normalize(e)
		if h == "" || strings.ContainsAny(h, " /:@") {
			errs = append(errs, fmt.Errorf("trusted forwarder %q: not an address, network or host name", e))
			continue
		}
		hosts = append(hosts, h)
	}
	return nets, hosts, errors.Join(errs...)
}

// Reason explains why the disposition differs from the published policy
// (RFC 7489 Appendix C PolicyOverrideType).
type Reason struct {
	Type    string // "sampled_out", "trusted_forwarder", "local_policy", ...
	Comment string
}

// Result is the outcome of one evaluation.
type Result struct {
	Value        Value
	FromDomain   string
	OrgDomain    string  // Organizational Domain of FromDomain
	PolicyDomain string  // where the record was found ("" when none)
	Record       *Record // the published record (nil when none)
	// Policy is the requested policy for this message (p, or sp for a
	// subdomain); "" when no policy applies.
	Policy Policy
	// Disposition is what the receiver should do after pct sampling and
	// local overrides: none, quarantine or reject.
	Disposition Policy
	SPFAligned  bool   // SPF passed for a domain aligned with From
	DKIMAligned bool   // a DKIM signature passed for an aligned domain
	DKIMDomain  string // the aligned DKIM domain that passed
	Reasons     []Reason
	Err         error // the DNS or record problem behind temperror/permerror/none
}

// Evaluate applies DMARC to one message: find the policy, check
// alignment, then apply pct sampling and local overrides to a failure.
func Evaluate(ctx context.Context, resolver pdns.Resolver, log *slog.Logger, in Input) Result {
	from := asciiDomain(in.FromDomain)
	res := Result{Value: ValueNone, FromDomain: from, Disposition: PolicyNone}
	if from == "" {
		res.Err = errors.New("no RFC5322.From domain")
		return res
	}
	res.OrgDomain = OrganizationalDomain(from)

	rec, domain, err := discover(ctx, resolver, from, res.OrgDomain)
	res.PolicyDomain = domain
	if !res.usable(ctx, log, rec, err) {
		return res
	}
	res.Record = rec

	// RFC 7489 6.3: sp applies only to subdomains of the domain queried;
	// the domain itself and domains without sp get p.
	res.Policy = rec.Policy
	if domain != from && rec.SubdomainPolicy != "" {
		res.Policy = rec.SubdomainPolicy
	}

	res.align(rec, in)
	if res.SPFAligned || res.DKIMAligned {
		res.Value = ValuePass
		return res
	}
	res.Value = ValueFail
	res.Disposition = res.Policy
	res.sample(rec, in.Local.Rand)

	// RFC 7489 6.7: local policy may override; the reason is reported (Appendix C).
	if res.Disposition != PolicyNone {
		if why, ok := in.Local.trusted(in.SourceIP, in.ClientHost); ok {
			res.Disposition = PolicyNone
			res.Reasons = append(res.Reasons, Reason{Type: "trusted_forwarder", Comment: why})
		}
	}
	return res
}

// usable decides from discover's answer whether DMARC applies, setting
// the result's value and error when it does not.
func (res *Result) usable(ctx context.Context, log *slog.Logger, rec *Record, err error) bool {
	switch {
	case errors.Is(err, ErrTemporary):
		res.Value, res.Err = ValueTempError, err
		log.DebugContext(ctx, "dmarc temperror", "from", res.FromDomain, "err", err)
		return false
	case errors.Is(err, ErrInvalidPolicy) && rec != nil && len(rec.RUA) > 0:
		// RFC 7489 6.6.3: without a valid p (or with an invalid sp) but with
		// a valid rua, act as if p=none was published.
		rec.Policy, rec.SubdomainPolicy = PolicyNone, ""
		res.Reasons = append(res.Reasons, Reason{Type: "other", Comment: "invalid policy in record; p=none assumed"})
	case errors.Is(err, ErrInvalidPolicy):
		// RFC 7489 6.6.3: otherwise no DMARC processing is applied.
		res.Value, res.Err = ValuePermError, err
		return false
	case err != nil:
		res.Err = err
		return false
	}
	return true
}

// align checks the identifiers. RFC 7489 4.2: DMARC passes when SPF or
// DKIM passes for an aligned identifier.
func (res *Result) align(rec *Record, in Input) {
	if strings.EqualFold(in.SPFResult, "pass") && Aligned(rec.SPFAlignment, in.SPFDomain, res.FromDomain) {
		res.SPFAligned = true
	}
	for _, d := range in.DKIM {
		if strings.EqualFold(d.Result, "pass") && Aligned(rec.DKIMAlignment, d.Domain, res.FromDomain) {
			res.DKIMAligned, res.DKIMDomain = true, normalize(d.Domain)
			break
		}
	}
}

// sample applies pct. RFC 7489 6.6.4: a message not selected by pct gets
// the next less strict policy.
func (res *Result) sample(rec *Record, rnd interface{ IntN(n int) int }) {
	if res.Disposition == PolicyNone || rec.Percent >= 100 {
		return
	}
	var n int
	if rnd != nil {
		n = rnd.IntN(100)
	} else {
		n = rand.IntN(100)
	}
	if n < rec.Percent {
		return
	}
	if res.Disposition == PolicyReject {
		res.Disposition = PolicyQuarantine
	} else {
		res.Disposition = PolicyNone
	}
	res.Reasons = append(res.Reasons, Reason{Type: "sampled_out", Comment: fmt.Sprintf("pct=%d", rec.Percent)})
}

func (lp LocalPolicy) trusted(ip netip.Addr, host string) (string, bool) {
	if ip.IsValid() {
		ip = ip.Unmap()
		for _, p := range lp.TrustedForwarders {
			if p.Contains(ip) {
				return "client in " + p.String(), true
			}
		}
	}
	host = normalize(host)
	if host == "" {
		return "", false
	}
	for _, h := range lp.TrustedHosts {
		if host == h || (strings.HasPrefix(h, ".") && strings.HasSuffix(host, h)) {
			return "client host " + host, true
		}
	}
	return "", false
}

// Errors from LookupRecord (and in Result.Err).
var (
	ErrTemporary       = errors.New("temporary DNS failure")
	ErrNoRecord        = errors.New("no DMARC record")
	ErrMultipleRecords = errors.New("multiple DMARC records")
)

// discover finds the policy record for from, falling back to the
// Organizational Domain (RFC 7489 6.6.3). It returns the record and the
// domain it was found at.
func discover(ctx context.Context, resolver pdns.Resolver, from, org string) (*Record, string, error) {
	rec, err := lookup(ctx, resolver, from)
	if errors.Is(err, ErrNoRecord) && org != from {
		// RFC 7489 6.6.3 step 3: with no record at the From domain, query the Organizational Domain.
		rec, err = lookup(ctx, resolver, org)
		if err == nil || rec != nil {
			return rec, org, err
		}
		return nil, "", err
	}
	if err == nil || rec != nil {
		return rec, from, err
	}
	return nil, "", err
}

// LookupRecord fetches and parses the DMARC record published at domain.
// The error is nil, or wraps ErrInvalidPolicy (the record is still
// returned), or reports no record, multiple records or a DNS failure.
func LookupRecord(ctx context.Context, resolver pdns.Resolver, domain string) (*Record, error) {
	return lookup(ctx, resolver, normalize(domain))
}

func lookup(ctx context.Context, resolver pdns.Resolver, domain string) (*Record, error) {
	txts, err := resolver.LookupTXT(ctx, "_dmarc."+domain)
	if err != nil {
		if pdns.IsNotFound(err) {
			return nil, fmt.Errorf("%w at _dmarc.%s", ErrNoRecord, domain)
		}
		return nil, fmt.Errorf("%w: _dmarc.%s: %v", ErrTemporary, domain, err)
	}
	var recs []*Record
	var recErrs []error
	for _, t := range txts {
		r, err := ParseRecord(t)
		if errors.Is(err, ErrNotDMARC) {
			// RFC 7489 6.6.3 step 2: records that are not DMARC records are discarded.
			continue
		}
		recs = append(recs, r)
		recErrs = append(recErrs, err)
	}
	switch len(recs) {
	case 0:
		return nil, fmt.Errorf("%w at _dmarc.%s", ErrNoRecord, domain)
	case 1:
		if recErrs[0] != nil {
			return recs[0], fmt.Errorf("_dmarc.%s: %w", domain, recErrs[0])
		}
		return recs[0], nil
	}
	// RFC 7489 6.6.3 step 4: several records mean DMARC is not applied.
	return nil, fmt.Errorf("%w at _dmarc.%s", ErrMultipleRecords, domain)
}
