package mailauth

import (
	"context"

	"github.com/emersion/go-msgauth/authres"

	"postern/internal/arc"
	"postern/internal/dmarc"
	"postern/internal/inbound"
)

// arcFields are the ARC header fields, as the message's parsed header
// names them.
var arcFields = []string{"Arc-Seal", "Arc-Message-Signature", "Arc-Authentication-Results"}

// checkARC validates the message's ARC chain (RFC 8617 5.2), on the
// message as received; nil when [arc] verify is off. A message without
// ARC fields is not read again.
func (v *Verifier) checkARC(ctx context.Context, t *inbound.Txn, m *inbound.Message) *arc.Result {
	if v.opt.NoARC {
		return nil
	}
	res := &arc.Result{CV: arc.None}
	h := m.Header()
	for _, name := range arcFields {
		if len(h[name]) == 0 {
			continue
		}
		r, err := v.arc.Verify(ctx, m.Reader())
		if err != nil {
			v.opt.Log.InfoContext(ctx, "arc: message unreadable", "from", t.Env.From, "err", err)
			r = arc.Result{CV: arc.Fail, Reason: "message unreadable"}
		}
		res = &r
		if r.CV == arc.Fail {
			v.opt.Log.InfoContext(ctx, "arc: chain failed", "from", t.Env.From, "i", r.Instance, "reason", r.Reason, "dns_failure", r.Temporary)
		}
		break
	}
	return res
}

// arcOverride lets a trusted sealer's chain override the DMARC failure
// res (local policy, RFC 7489 6.7; the chain as RFC 8617 7.2 allows; the
// rule is arc.Result.Trusted): the disposition becomes none, with the
// reason local_policy for the aggregate report. It returns the override
// made, or over when there is none.
func (v *Verifier) arcOverride(ctx context.Context, t *inbound.Txn, res *dmarc.Result, chain *arc.Result, over *arc.Override) *arc.Override {
	if chain == nil || res.Value != dmarc.ValueFail || res.Disposition == dmarc.PolicyNone {
		return over
	}
	o, ok := chain.Trusted(v.opt.TrustedSealers, res.FromDomain)
	if !ok {
		return over
	}
	v.opt.Log.InfoContext(ctx, "dmarc failure overridden by a trusted ARC sealer", "from", t.Env.From,
		"header_from", res.FromDomain, "policy", res.Policy, "disposition", res.Disposition,
		"sealer", o.Sealer, "i", o.Instance, "reason", o.Comment())
	res.Disposition = dmarc.PolicyNone
	// RFC 7489 Appendix C: PolicyOverrideType local_policy.
	res.Reasons = append(res.Reasons, dmarc.Reason{Type: "local_policy", Comment: o.Comment()})
	return &o
}

// arcClause is the arc= clause of Authentication-Results, nil when the
// chain was not checked.
func arcClause(chain *arc.Result, over *arc.Override) authres.Result {
	if chain == nil {
		return nil
	}
	return chain.AuthResult(over)
}
