package dmarcreport

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// aggregate groups a period's evaluations by policy domain (the domain
// whose record was found and that asked for aggregate reports with rua).
type aggregate struct {
	policy *Published
	rows   map[string]*Record
	order  []string
}

// collect reads [begin, end) from the backend and groups it.
func collect(ctx context.Context, b Backend, begin, end time.Time) (map[string]*aggregate, error) {
	out := map[string]*aggregate{}
	err := b.Scan(ctx, begin, end, func(e Evaluation) error {
		if e.Policy == nil || len(e.Policy.RUA) == 0 {
			return nil // no record, or no aggregate reports requested
		}
		dom := strings.ToLower(e.Policy.Domain)
		a := out[dom]
		if a == nil {
			a = &aggregate{rows: map[string]*Record{}}
			out[dom] = a
		}
		a.policy = e.Policy // the latest record seen in the period is reported
		r := recordOf(e)
		k := rowKey(r)
		if have := a.rows[k]; have != nil {
			have.Row.Count++
			return nil
		}
		r.Row.Count = 1
		a.rows[k] = &r
		a.order = append(a.order, k)
		return nil
	})
	return out, err
}

// recordOf renders one evaluation as a report record.
func recordOf(e Evaluation) Record {
	pf := func(ok bool) string {
		if ok {
			return "pass"
		}
		return "fail"
	}
	disp := e.Disposition
	switch disp {
	case "none", "quarantine", "reject":
	default:
		disp = "none"
	}
	r := Record{
		Row: Row{SourceIP: schemaIP(e.SourceIP), PolicyEvaluated: PolicyEvaluated{
			Disposition: disp, DKIM: pf(e.DKIMAligned), SPF: pf(e.SPFAligned)}},
		Identifiers: Identifiers{EnvelopeTo: e.EnvelopeTo, EnvelopeFrom: e.EnvelopeFrom, HeaderFrom: e.HeaderFrom},
	}
	for _, re := range e.Reasons {
		r.Row.PolicyEvaluated.Reasons = append(r.Row.PolicyEvaluated.Reasons, ReasonReport{Type: re.Type, Comment: re.Comment})
	}
	for _, d := range e.DKIM {
		r.AuthResults.DKIM = append(r.AuthResults.DKIM, DKIMReport{Domain: d.Domain, Selector: d.Selector, Result: dkimResult(d.Result)})
	}
	// RFC 7489 Appendix C: there is always at least one SPF result.
	spf := SPFReport{Domain: e.SPF.Domain, Scope: e.SPF.Scope, Result: spfResult(e.SPF.Result)}
	if spf.Domain == "" {
		spf.Domain = e.EnvelopeFrom
	}
	if spf.Domain == "" {
		spf.Domain = e.HeaderFrom
	}
	if spf.Scope != "helo" {
		spf.Scope = "mfrom"
	}
	r.AuthResults.SPF = []SPFReport{spf}
	return r
}

// schemaIP writes an address in the form the Appendix C pattern accepts:
// dotted quad, or IPv6 with all eight groups (no "::").
func schemaIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	g := make([]string, 8)
	for i := range g {
		g[i] = fmt.Sprintf("%x", uint16(b[2*i])<<8|uint16(b[2*i+1]))
	}
	return strings.Join(g, ":")
}

func dkimResult(s string) string {
	switch s = strings.ToLower(s); s {
	case "none", "pass", "fail", "policy", "neutral", "temperror", "permerror":
		return s
	}
	return "permerror"
}

func spfResult(s string) string {
	switch s = strings.ToLower(s); s {
	case "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror":
		return s
	case "":
		return "none"
	}
	return "permerror"
}

func rowKey(r Record) string {
	var b strings.Builder
	pe := r.Row.PolicyEvaluated
	fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%s", r.Row.SourceIP, pe.Disposition, pe.DKIM, pe.SPF,
		r.Identifiers.EnvelopeTo, r.Identifiers.EnvelopeFrom, r.Identifiers.HeaderFrom)
	for _, re := range pe.Reasons {
		fmt.Fprintf(&b, "|r:%s:%s", re.Type, re.Comment)
	}
	for _, d := range r.AuthResults.DKIM {
		fmt.Fprintf(&b, "|d:%s:%s:%s", d.Domain, d.Selector, d.Result)
	}
	for _, s := range r.AuthResults.SPF {
		fmt.Fprintf(&b, "|s:%s:%s:%s", s.Domain, s.Scope, s.Result)
	}
	return b.String()
}

// feedback builds the report document for one policy domain.
func (a *aggregate) feedback(meta ReportMetadata) *Feedback {
	p := a.policy
	f := &Feedback{Version: "1.0", Metadata: meta, Policy: PolicyPublished{
		Domain: p.Domain, ADKIM: p.ADKIM, ASPF: p.ASPF, P: p.P, SP: p.SP, Pct: Int(p.Pct), FO: p.FO}}
	if f.Policy.SP == "" {
		f.Policy.SP = f.Policy.P
	}
	if f.Policy.FO == "" {
		f.Policy.FO = "0"
	}
	keys := append([]string(nil), a.order...)
	sort.SliceStable(keys, func(i, j int) bool { return a.rows[keys[i]].Row.Count > a.rows[keys[j]].Row.Count })
	for _, k := range keys {
		f.Records = append(f.Records, *a.rows[k])
	}
	return f
}
