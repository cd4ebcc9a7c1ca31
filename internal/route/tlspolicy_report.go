package route

import (
	"fmt"
	"strings"
	"time"

	"postern/internal/dane"
	"postern/internal/deliver"
	"postern/internal/mtasts"
	"postern/internal/tlsrpt"
)

// TLSReports counts delivery sessions for TLS reports (RFC 8460); a
// *tlsrpt.Store is one. TLSPolicies.Reports nil counts nothing.
type TLSReports interface {
	Record(tlsrpt.Session)
}

// daneSeen is what DANE found for a server, for its TLS report.
type daneSeen struct {
	dec    dane.Decision // ModeNone when DANE was not asked or does not apply
	failed error         // the server's address or TLSA lookup failed: it is passed over
}

// report sets up the counting of the session Host has just chosen c
// (or refused, with err) for: the TLS outcome of the session is counted
// under the recipient domain's policy (DANE's, else MTA-STS's, else
// none), and a server that a policy rules out before any TLS (DNSSEC
// lookups that fail, an MX host the enforced MTA-STS policy does not
// list, any server of a domain whose policy could not be fetched) is
// counted as a failure at once. Only the domain's own MX hosts are
// counted, not the operator's routes and tls_destination for the domain,
// nor a message that sets the policies aside (TLS-Required: No, which
// the TLS reports themselves carry: RFC 8460 5.3).
func (d *domainTLS) report(c *deliver.TLSChoice, s deliver.Server, seen daneSeen, err error) {
	rep := d.p.Reports
	if rep == nil || !d.viaMX || d.explicit != nil || s.IgnorePublished || d.domain == "" || strings.HasPrefix(d.domain, "[") {
		return
	}
	if d.reportDANE(c, s, seen, err) {
		return
	}
	pol := d.reportPolicy()
	fail := tlsrpt.Session{Time: time.Now(), Policy: pol, MXHost: s.Name, ReceivingIP: s.IP}
	if fail.Result, fail.Reason = d.policyFailure(s.Name, err); fail.Result != "" {
		fail.SendingIP, fail.Info = tlsrpt.SourceAddr(s.IP), mtasts.PolicyURL(d.domain)
		rep.Record(fail)
		return
	}
	if err != nil {
		return // the server is not used, for a reason of its own
	}
	// In mode testing an MX host the policy does not list is used, and
	// counted as a failure whatever TLS gives.
	unlisted := d.sts.Policy != nil && !d.sts.Policy.Matches(s.Name)
	c.Report = func(o deliver.TLSOutcome) {
		ss := tlsrpt.Session{Time: time.Now(), Policy: pol, Result: o.Result, MXHost: o.Host, ReceivingIP: o.IP, Reason: o.Detail}
		if ss.Result == "" && unlisted {
			ss.Result, ss.Reason, ss.Info = tlsrpt.ResultValidationFailure, d.notListed(o.Host), mtasts.PolicyURL(d.domain)
		}
		if ss.Result != "" {
			ss.SendingIP = tlsrpt.SourceAddr(o.IP)
		}
		rep.Record(ss)
	}
}

// reportPolicy is the MTA-STS policy, or none, a session is reported
// under (RFC 8460 4.4 "policy").
func (d *domainTLS) reportPolicy() tlsrpt.Policy {
	p := tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: d.domain}
	switch pol := d.sts.Policy; {
	case pol != nil:
		// RFC 8460 4.4: policy-string holds the policy file's lines, and
		// mx-host its mx patterns.
		p.Type = tlsrpt.PolicySTS
		p.String = strings.Split(strings.TrimSuffix(pol.Text(), "\r\n"), "\r\n")
		p.MXHost = append([]string(nil), pol.MX...)
	case d.sts.Fetch != nil:
		p.Type = tlsrpt.PolicySTS // published, but not fetched
	}
	return p
}

// policyFailure is the result type and reason of a session that fails
// on the domain's MTA-STS policy before any TLS: the policy could not be
// fetched (and none is cached), or it is enforced and does not list the
// server (Host's err). "" when the policy does not fail the session.
func (d *domainTLS) policyFailure(host string, err error) (string, string) {
	if f := d.sts.Fetch; f != nil && d.sts.Policy == nil {
		switch {
		case mtasts.IsCertError(f):
			return tlsrpt.ResultSTSWebPKIInvalid, f.Error()
		case strings.HasPrefix(f.Error(), "policy "+mtasts.PolicyURL(d.domain)+": "):
			// The cache's error for a policy file that does not parse.
			return tlsrpt.ResultSTSPolicyInvalid, f.Error()
		}
		return tlsrpt.ResultSTSPolicyFetch, f.Error()
	}
	if err != nil && d.sts.Enforced() && !d.sts.Policy.Matches(host) {
		return tlsrpt.ResultValidationFailure, d.notListed(host)
	}
	return "", ""
}

// notListed is the reason given for an MX host the policy does not list.
func (d *domainTLS) notListed(host string) string {
	return fmt.Sprintf("%s is not among the mx patterns of the MTA-STS policy of %s", host, d.domain)
}
