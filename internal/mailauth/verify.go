package mailauth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"postern/internal/arc"
	"postern/internal/dkim"
	"postern/internal/dmarc"
	"postern/internal/dmarcreport"
	"postern/internal/inbound"
	"postern/internal/smtp"
	"postern/internal/spf"
)

// replyFromCount refuses a message without exactly one From field when
// DMARC is enforced: RFC 5322 3.6 requires exactly one, and a second one
// is the classic way to show readers a domain DMARC did not check.
var replyFromCount = &smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: "message refused: it must have exactly one From header field"}

// CheckData verifies DKIM and the ARC chain, evaluates DMARC (which a
// trusted ARC sealer may override), records the evaluation,
// writes Received-SPF and Authentication-Results, and enforces the
// result. Authentication-Results claiming our own name are removed from
// every message not from trusted_networks.
func (v *Verifier) CheckData(ctx context.Context, t *inbound.Txn, m *inbound.Message) *inbound.Verdict {
	c := t.Conn
	if isTrusted(c, v.opt.Trusted) {
		// Our own hosts (a content filter re-injecting, say) may carry
		// our results legitimately; nothing is checked or added.
		return nil
	}
	if c.AuthUser != "" {
		v.removeForged(ctx, m)
		return nil
	}
	var dk []dkim.Result
	if !v.opt.NoDKIM {
		br := v.reader(m.Reader())
		var err error
		dk, err = v.dkim.Verify(ctx, v.opt.Resolver, v.opt.Log, br)
		v.release(br)
		if err != nil {
			v.opt.Log.InfoContext(ctx, "dkim: message unreadable", "from", t.Env.From, "err", err)
		}
	}
	chain := v.checkARC(ctx, t, m)
	// Verified on the message as received; only then are forged
	// results removed (a signature might cover them).
	v.removeForged(ctx, m)

	sr, _ := t.Values[spfKey{}].(*spf.Result)
	froms := m.Header()["From"]
	var domains []string
	if !v.opt.NoDMARC {
		domains = fromDomains(froms)
	}
	var results []dmarc.Result
	var over *arc.Override
	in := v.input(t, sr, dk)
	for _, d := range domains {
		in.FromDomain = d
		res := dmarc.Evaluate(ctx, v.opt.Resolver, v.opt.Log, in)
		over = v.arcOverride(ctx, t, &res, chain, over)
		results = append(results, res)
		v.record(ctx, in, res)
	}

	if sr != nil {
		t.AddHeader("Received-SPF", strings.TrimPrefix(sr.ReceivedSPF(v.opt.Hostname), "Received-SPF: "))
	}
	ar := v.authResults(sr, dk, arcClause(chain, over), results, len(froms))
	if ar != "" {
		t.AddHeader("Authentication-Results", ar)
	}

	if len(froms) != 1 && v.opt.Enforce.Enforce && !v.opt.NoDMARC {
		// RFC 7489 6.6.1: a message without exactly one From field
		// cannot be checked reliably; RFC 5322 3.6 makes it invalid.
		return &inbound.Verdict{Reply: replyFromCount, Rule: fmt.Sprintf("%d From header fields (dmarc.enforce)", len(froms))}
	}
	verdict := v.enforce(results)
	v.reportFailures(ctx, t, m, in, results, dk, ar, verdict)
	return verdict
}

// input is what DMARC needs apart from the From domain.
func (v *Verifier) input(t *inbound.Txn, sr *spf.Result, dk []dkim.Result) dmarc.Input {
	in := dmarc.Input{
		SPFResult:  spf.None,
		SourceIP:   t.Conn.IP(),
		ClientHost: t.Conn.ClientName,
		Local:      v.opt.Local,
	}
	if sr != nil {
		in.SPFResult, in.SPFDomain = sr.Result, sr.Domain
		// RFC 7489 4.1: with the null sender, SPF's HELO result is used.
		in.SPFScope = "mfrom"
		if sr.Identity == spf.IdentityHelo {
			in.SPFScope = "helo"
		}
	}
	if at := strings.LastIndexByte(t.Env.From, '@'); at >= 0 {
		in.EnvelopeFrom = t.Env.From[at+1:]
	}
	if len(t.Env.Rcpts) > 0 {
		a := t.Env.Rcpts[0].Addr
		in.EnvelopeTo = a[strings.LastIndexByte(a, '@')+1:]
	}
	for _, r := range dk {
		in.DKIM = append(in.DKIM, dmarc.DKIMResult{Domain: r.Domain, Selector: r.Selector, Result: r.Result})
	}
	return in
}

// record keeps the evaluation for aggregate reports (RFC 7489 7.2).
func (v *Verifier) record(ctx context.Context, in dmarc.Input, res dmarc.Result) {
	if v.opt.Store == nil || res.FromDomain == "" {
		return
	}
	now := time.Now()
	if v.opt.Now != nil {
		now = v.opt.Now()
	}
	if err := v.opt.Store.Append(ctx, dmarcreport.NewEvaluation(now, in, res)); err != nil {
		v.opt.Log.ErrorContext(ctx, "dmarc: evaluation not recorded", "from", res.FromDomain, "err", err)
	}
}

// enforce turns the strictest result into a verdict.
func (v *Verifier) enforce(results []dmarc.Result) *inbound.Verdict {
	var worst dmarc.Action
	var which dmarc.Result
	for _, r := range results {
		if a := r.Action(v.opt.Enforce); a > worst {
			worst, which = a, r
		}
	}
	rule := fmt.Sprintf("DMARC fail for %s (policy domain %s, p=%s, disposition %s)", which.FromDomain, which.PolicyDomain, which.Policy, which.Disposition)
	switch worst {
	case dmarc.ActionReject:
		return &inbound.Verdict{Reply: which.RejectReply(), Rule: rule}
	case dmarc.ActionHold:
		return &inbound.Verdict{Action: inbound.Hold, Rule: rule + ": held"}
	case dmarc.ActionJunk:
		return &inbound.Verdict{Action: inbound.Junk, Rule: rule + ": to Junk"}
	}
	return nil
}

// authResults formats the Authentication-Results value (RFC 8601 2.2),
// one method per line; "" when no check ran.
func (v *Verifier) authResults(sr *spf.Result, dk []dkim.Result, ac authres.Result, dm []dmarc.Result, froms int) string {
	var rs []authres.Result
	if sr != nil {
		rs = append(rs, sr.AuthResult())
	}
	if !v.opt.NoDKIM {
		rs = append(rs, dkim.AuthResults(dk)...)
	}
	if ac != nil {
		rs = append(rs, ac)
	}
	for _, r := range dm {
		rs = append(rs, r.AuthResult())
	}
	if len(dm) == 0 && !v.opt.NoDMARC {
		why := "no From header field"
		if froms > 0 {
			why = "no domain in the From header field"
		}
		rs = append(rs, &authres.DMARCResult{Value: authres.ResultNone, Reason: why})
	}
	if len(rs) == 0 {
		return ""
	}
	var b bytes.Buffer
	b.WriteString(v.opt.Hostname)
	for _, r := range rs {
		b.WriteString(";\r\n\t")
		b.WriteString(strings.TrimSpace(strings.TrimPrefix(authres.Format("", []authres.Result{r}), ";")))
	}
	return b.String()
}

// removeForged drops Authentication-Results that claim our authserv-id.
// The message is rewritten only when such a field is there.
func (v *Verifier) removeForged(ctx context.Context, m *inbound.Message) {
	if !claimsOurs(m.Header()["Authentication-Results"], v.opt.Hostname) {
		return
	}
	var n int
	err := m.Rewrite(func(w io.Writer) error {
		var err error
		n, err = stripForged(w, m.Reader(), v.opt.Hostname)
		return err
	})
	if err != nil {
		v.opt.Log.WarnContext(ctx, "forged Authentication-Results not removed", "err", err)
		return
	}
	v.opt.Log.InfoContext(ctx, "forged Authentication-Results removed", "fields", n)
}
