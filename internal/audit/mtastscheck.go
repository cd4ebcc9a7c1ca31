package audit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"postern/internal/dns"
	"postern/internal/mtasts"
)

// stsMinMaxAge is the max_age under which the check warns: RFC 8461 3.2
// recommends weeks, and a policy that expires within a day gives little
// protection against an attacker who blocks the next fetch.
const stsMinMaxAge = 86400

// stsModeProblems are what the policy's mode says is missing, with the fix.
var stsModeProblems = map[mtasts.Mode]struct{ problem, fix string }{
	mtasts.Testing: {"mode testing only reports failures: senders still deliver without TLS",
		"switch to mode: enforce when your TLS reports (TLSRPT) are clean"},
	mtasts.None: {"mode none withdraws the policy",
		"switch to mode: testing, then enforce when your TLS reports (TLSRPT) are clean"},
}

// stsVerdict gathers what is wrong with a domain's MTA-STS setup: the
// worst status so far, and a problem and its fix for each finding.
type stsVerdict struct {
	sev      Status
	problems []string
	fixes    []string
}

func (v *stsVerdict) add(sev Status, problem, fix string) {
	v.sev = worst(v.sev, sev)
	v.problems = append(v.problems, problem)
	v.fixes = append(v.fixes, fix)
}

// checkSTSPolicy checks the MTA-STS setup of d the way a sender finds it
// (RFC 8461 3): the TXT record, the policy file fetched over HTTPS, then
// the policy against the domain's MX hosts.
func (t *target) checkSTSPolicy(ctx context.Context, r *Report, res dns.Resolver, d string) {
	c := Check{ID: "dns.mta-sts-policy", Category: "dns", Title: "MTA-STS policy (" + mtasts.PolicyURL(d) + ")"}
	v := &stsVerdict{sev: Pass}
	if t.checkSTSRecord(ctx, &c, v, res, d) {
		if body, ok := t.fetchSTSPolicy(ctx, &c, v, d); ok {
			if p := parseSTSPolicy(&c, body); p != nil {
				t.judgeSTSPolicy(ctx, &c, v, res, d, p)
			}
		}
	}
	r.add(c)
}

// checkSTSRecord looks up the _mta-sts record of d and checks its id. It
// returns false, with c's status set, when senders would not look for a
// policy at all.
func (t *target) checkSTSRecord(ctx context.Context, c *Check, v *stsVerdict, res dns.Resolver, d string) bool {
	name := mtasts.RecordName(d)
	txts, err := res.LookupTXT(ctx, name)
	if err != nil && !dns.IsNotFound(err) {
		c.Status, c.Detail = Skip, "The "+name+" lookup failed ("+err.Error()+"), so senders would not fetch the policy either."
		return false
	}
	var recs []string
	for _, txt := range txts {
		// RFC 8461 3.1: the record starts with "v=STSv1" (the same
		// choice as dns.mta-sts).
		if strings.HasPrefix(txt, "v=STSv1") {
			recs = append(recs, txt)
			c.Evidence = append(c.Evidence, name+". TXT \""+txt+"\"")
		}
	}
	switch len(recs) {
	case 0:
		c.Status, c.Detail = Skip, "No MTA-STS record at "+name+": senders do not look for a policy (see dns.mta-sts)."
		return false
	case 1:
	default:
		// RFC 8461 3.1: more than one record means no policy.
		c.Status, c.Detail = Skip, "More than one MTA-STS record at "+name+": senders ignore them and fetch no policy (see dns.mta-sts)."
		return false
	}
	rec, err := mtasts.ParseRecord(recs[0])
	switch {
	case err == nil:
		c.Evidence = append(c.Evidence, "policy id "+rec.ID)
	case errors.Is(err, mtasts.ErrNoID):
		v.add(Fail, "the "+name+" record has no valid id= (1 to 32 letters and digits), so senders ignore it (RFC 8461 3.1)",
			"give the TXT record an id, e.g. \"v=STSv1; id="+t.opt.now().UTC().Format("20060102T150405")+"\", and change it whenever the policy changes")
	default:
		v.add(Fail, "the "+name+" record is invalid ("+err.Error()+"), so senders ignore it (RFC 8461 3.1)",
			"write the TXT record as \"v=STSv1; id=ID\", fields separated by \";\", each name=value")
	}
	return true
}

// fetchSTSPolicy fetches the policy file of d. It returns false, with c's
// status set, when the policy cannot be fetched.
func (t *target) fetchSTSPolicy(ctx context.Context, c *Check, v *stsVerdict, d string) (string, bool) {
	f, err := mtasts.Fetch(ctx, t.opt.stsClient(), d, t.opt.Timeout)
	c.Evidence = append(c.Evidence, stsFetchEvidence(f)...)
	if err == nil {
		return f.Body, true
	}
	c.Evidence = append(c.Evidence, "error: "+err.Error())
	c.Status, c.Detail, c.Fix = judgeSTSFetch(d, err)
	if c.Status == Fail && v.sev == Fail {
		c.Detail += " Also: " + strings.Join(v.problems, "; ") + "."
	}
	return "", false
}

// judgeSTSFetch says what a failed fetch means for senders.
func judgeSTSFetch(d string, err error) (st Status, detail, fix string) {
	host := mtasts.PolicyHost(d)
	switch {
	case errors.Is(err, ErrNotLoopback):
		return Skip, "Not fetched: " + host + " is not a loopback address and auditing a real network was not allowed (-allow-remote).", ""
	case mtasts.IsCertError(err):
		return Fail, "The policy cannot be fetched: the HTTPS certificate of " + host + " is not valid for that name (" + err.Error() + "). Senders treat this as no policy (RFC 8461 3.3).",
			"Serve " + host + " with a certificate from a public CA that names " + host + ", with its full chain."
	}
	return Fail, "The policy cannot be fetched: " + err.Error() + ". Senders treat this as no policy (RFC 8461 3.3).",
		"Serve the policy at " + mtasts.PolicyURL(d) + " over HTTPS, with status 200, Content-Type text/plain and no redirect."
}

// stsFetchEvidence shows the request, the answer and the certificate.
func stsFetchEvidence(f *mtasts.Response) []string {
	if f == nil {
		return nil
	}
	ev := []string{"GET " + f.URL}
	if f.StatusCode == 0 {
		return ev
	}
	ev = append(ev, "HTTP "+f.Status+", Content-Type: "+f.ContentType)
	if crt := f.Certificate; crt != nil {
		names := crt.DNSNames
		if len(names) > 4 {
			names = append(names[:4:4], fmt.Sprintf("and %d more", len(crt.DNSNames)-4))
		}
		ev = append(ev, fmt.Sprintf("certificate for %s, issued by %s, valid until %s",
			strings.Join(names, ", "), crt.Issuer.CommonName, crt.NotAfter.UTC().Format("2006-01-02")))
	}
	return ev
}

// parseSTSPolicy parses the fetched policy, showing it in the evidence. It
// returns nil, with c's status set, when the policy is invalid.
func parseSTSPolicy(c *Check, body string) *mtasts.Policy {
	for _, line := range strings.Split(strings.TrimRight(body, "\r\n"), "\n") {
		c.Evidence = append(c.Evidence, "policy: "+clip(strings.TrimSuffix(line, "\r")))
	}
	p, err := mtasts.ParsePolicy(body)
	if err != nil {
		c.Status = Fail
		c.Detail = "The policy is invalid (" + err.Error() + "): senders treat this as no policy (RFC 8461 3.2)."
		c.Fix = "Write the policy as lines \"version: STSv1\", \"mode: enforce\", one \"mx: HOST\" per mail server and \"max_age: 1209600\"."
		return nil
	}
	for _, n := range p.Notes {
		c.Evidence = append(c.Evidence, "note: "+n)
	}
	return p
}

// judgeSTSPolicy judges a valid policy: its mode, whether the MX hosts
// match, its max_age; then sets c's status, detail and fix.
func (t *target) judgeSTSPolicy(ctx context.Context, c *Check, v *stsVerdict, res dns.Resolver, d string, p *mtasts.Policy) {
	if m, ok := stsModeProblems[p.Mode]; ok {
		v.add(Warn, m.problem, m.fix)
	}
	if p.Mode != mtasts.None {
		t.checkSTSMX(ctx, c, v, res, d, p)
	}
	if p.MaxAge < stsMinMaxAge {
		v.add(Warn, fmt.Sprintf("max_age is %d seconds, under a day: senders forget the policy quickly", p.MaxAge),
			"raise max_age to a few weeks (RFC 8461 recommends weeks), e.g. max_age: 1209600")
	}
	c.Status = v.sev
	if len(v.problems) == 0 {
		c.Detail = fmt.Sprintf("Valid policy, mode %s, every MX host matches, max_age %s.", p.Mode, stsAge(p.MaxAge))
		return
	}
	c.Detail = fmt.Sprintf("Policy (mode %s, max_age %s): %s.", p.Mode, stsAge(p.MaxAge), strings.Join(v.problems, "; "))
	f := strings.Join(v.fixes, "; ")
	c.Fix = strings.ToUpper(f[:1]) + f[1:] + "."
}

// checkSTSMX checks that every MX host of d matches a policy pattern.
func (t *target) checkSTSMX(ctx context.Context, c *Check, v *stsVerdict, res dns.Resolver, d string, p *mtasts.Policy) {
	mxs, err := res.LookupMX(ctx, d)
	if err != nil && dns.IsNotFound(err) {
		// RFC 5321 5.1: without MX records the domain itself is the
		// mail host, and RFC 8461 4.1 applies to it as to an MX.
		c.Evidence = append(c.Evidence, "no MX record: senders deliver to "+d+" itself")
		mxs, err = []*net.MX{{Host: d, Pref: 0}}, nil
	}
	if err != nil {
		v.add(Warn, "the MX hosts could not be compared with the policy: "+err.Error(), "check the MX records (dns.mx)")
		return
	}
	sort.Slice(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
	var bad []string
	for _, mx := range mxs {
		h := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
		if h == "" {
			continue // null MX (RFC 7505): no host to deliver to
		}
		// RFC 8461 4.1: senders deliver only to MX hosts that match
		// a pattern of the policy.
		if p.Matches(h) {
			c.Evidence = append(c.Evidence, "MX "+h+" matches the policy")
		} else {
			c.Evidence = append(c.Evidence, "MX "+h+" matches no mx pattern")
			bad = append(bad, h)
		}
	}
	if len(bad) > 0 {
		v.add(Fail, "MX host(s) "+strings.Join(bad, ", ")+" match no mx line of the policy: under enforce, senders refuse to deliver to them",
			"add an \"mx: HOST\" line for each ("+strings.Join(bad, ", ")+") or a \"*.\" pattern covering them, and change the id in the TXT record")
	}
}

// stsAge shows max_age in seconds with a rough unit.
func stsAge(s int64) string {
	switch {
	case s >= 86400:
		return fmt.Sprintf("%d s (%d days)", s, s/86400)
	case s >= 3600:
		return fmt.Sprintf("%d s (%d hours)", s, s/3600)
	}
	return fmt.Sprintf("%d s", s)
}

// clip shortens text quoted in the evidence.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
