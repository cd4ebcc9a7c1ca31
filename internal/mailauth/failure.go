package mailauth

import (
	"context"
	"strings"
	"time"

	"postern/internal/dkim"
	"postern/internal/dmarc"
	"postern/internal/dmarcreport"
	"postern/internal/inbound"
)

// FailureReporter is told of each DMARC evaluation that a failure report
// is due about ([dmarc] failure_reports); *dmarcreport.FailureReporter is
// one. ReportFailure must not block: it runs in the SMTP session.
type FailureReporter interface {
	ReportFailure(ctx context.Context, f dmarcreport.Failure)
}

// reportFailures hands the evaluations whose policy asks for failure
// reports (ruf, fo) to the failure reporter, with what happened to the
// message and its header.
func (v *Verifier) reportFailures(ctx context.Context, t *inbound.Txn, m *inbound.Message, in dmarc.Input,
	results []dmarc.Result, dk []dkim.Result, ar string, verdict *inbound.Verdict) {
	if v.opt.Failures == nil {
		return
	}
	var hdr []byte
	for _, res := range results {
		in.FromDomain = res.FromDomain
		kind, ok := res.FailureReportDue(in)
		if !ok {
			continue
		}
		if hdr == nil {
			hdr = dmarcreport.ReadHeader(m.Reader())
		}
		f := dmarcreport.Failure{Result: res, Input: in, Kind: kind, MailFrom: t.Env.From, EnvelopeID: t.Env.EnvID,
			Arrival: t.Env.Received, AuthResults: ar, Delivery: deliveryResult(verdict), Header: hdr}
		if f.Arrival.IsZero() {
			f.Arrival = v.now()
		}
		for _, r := range dk {
			f.Signatures = append(f.Signatures, dmarcreport.Signature{Domain: r.Domain, Selector: r.Selector,
				Identity: r.AUID, Result: strings.ToLower(r.Result)})
		}
		v.opt.Failures.ReportFailure(ctx, f)
	}
}

// deliveryResult names the fate of the message as RFC 6591 3.2's
// Delivery-Result does.
func deliveryResult(vd *inbound.Verdict) string {
	switch {
	case vd == nil:
		return "delivered"
	case vd.Reply != nil:
		return "reject"
	case vd.Action == inbound.Junk:
		return "spam"
	case vd.Action == inbound.Hold:
		return "policy"
	}
	return "other"
}

// now is the Verifier's clock.
func (v *Verifier) now() time.Time {
	if v.opt.Now != nil {
		return v.opt.Now()
	}
	return time.Now()
}
