package audit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"postern/internal/dns"
)

// stsMinMaxAge is the max_age under which the check warns: RFC 8461 3.2
// recommends weeks, and a policy that expires within a day gives little
// protection against an attacker who blocks the next fetch.
const stsMinMaxAge = 86400

// checkSTSPolicy fetches and checks the MTA-STS policy of d (RFC 8461 3).
func (t *target) checkSTSPolicy(ctx context.Context, r *Report, res dns.Resolver, d string) {
	url := "https://mta-sts." + d + "/.well-known/mta-sts.txt"
	c := Check{ID: "dns.mta-sts-policy", Category: "dns", Title: "MTA-STS policy (" + url + ")"}
	name := "_mta-sts." + d
	txts, err := res.LookupTXT(ctx, name)
	if err != nil && !dns.IsNotFound(err) {
		c.Status, c.Detail = Skip, "The "+name+" lookup failed ("+err.Error()+"), so senders would not fetch the policy either."
		r.add(c)
		return
	}
	var recs []string
	for _, txt := range txts {
		// RFC 8461 3.1: the record starts with "v=STSv1".
		if strings.HasPrefix(txt, "v=STSv1") {
			recs = append(recs, txt)
			c.Evidence = append(c.Evidence, name+". TXT \""+txt+"\"")
		}
	}
	switch len(recs) {
	case 0:
		c.Status, c.Detail = Skip, "No MTA-STS record at "+name+": senders do not look for a policy (see dns.mta-sts)."
		r.add(c)
		return
	case 1:
	default:
		// RFC 8461 3.1: more than one record means no policy.
		c.Status, c.Detail = Skip, "More than one MTA-STS record at "+name+": senders ignore them and fetch no policy (see dns.mta-sts)."
		r.add(c)
		return
	}
	sev := Pass
	var problems, fixes []string
	if id, ok := stsRecordID(recs[0]); !ok {
		sev = Fail
		problems = append(problems, "the "+name+" record has no valid id= (1 to 32 letters and digits), so senders ignore it (RFC 8461 3.1)")
		fixes = append(fixes, "give the TXT record an id, e.g. \"v=STSv1; id="+t.opt.now().UTC().Format("20060102T150405")+"\", and change it whenever the policy changes")
	} else {
		c.Evidence = append(c.Evidence, "policy id "+id)
	}

	fctx, cancel := context.WithTimeout(ctx, stsTimeout(t.opt))
	defer cancel()
	f, err := fetchSTSPolicy(fctx, t.opt.stsClient(), d)
	c.Evidence = append(c.Evidence, f.Evidence...)
	if err != nil {
		c.Evidence = append(c.Evidence, "error: "+err.Error())
		switch {
		case errors.Is(err, ErrNotLoopback):
			c.Status = Skip
			c.Detail = "Not fetched: mta-sts." + d + " is not a loopback address and auditing a real network was not allowed (-allow-remote)."
		case isCertError(err):
			c.Status = Fail
			c.Detail = "The policy cannot be fetched: the HTTPS certificate of mta-sts." + d + " is not valid for that name (" + err.Error() + "). Senders treat this as no policy (RFC 8461 3.3)."
			c.Fix = "Serve mta-sts." + d + " with a certificate from a public CA that names mta-sts." + d + ", with its full chain."
		default:
			c.Status = Fail
			c.Detail = "The policy cannot be fetched: " + err.Error() + ". Senders treat this as no policy (RFC 8461 3.3)."
			c.Fix = "Serve the policy at " + url + " over HTTPS, with status 200, Content-Type text/plain and no redirect."
		}
		if c.Status == Fail && sev == Fail {
			c.Detail += " Also: " + strings.Join(problems, "; ") + "."
		}
		r.add(c)
		return
	}
	for _, line := range strings.Split(strings.TrimRight(f.Body, "\r\n"), "\n") {
		c.Evidence = append(c.Evidence, "policy: "+clip(strings.TrimSuffix(line, "\r")))
	}
	p, err := ParseSTSPolicy(f.Body)
	if err != nil {
		c.Status = Fail
		c.Detail = "The policy is invalid (" + err.Error() + "): senders treat this as no policy (RFC 8461 3.2)."
		c.Fix = "Write the policy as lines \"version: STSv1\", \"mode: enforce\", one \"mx: HOST\" per mail server and \"max_age: 1209600\"."
		r.add(c)
		return
	}
	for _, n := range p.Notes {
		c.Evidence = append(c.Evidence, "note: "+n)
	}
	switch p.Mode {
	case "testing":
		sev = worst(sev, Warn)
		problems = append(problems, "mode testing only reports failures: senders still deliver without TLS")
		fixes = append(fixes, "switch to mode: enforce when your TLS reports (TLSRPT) are clean")
	case "none":
		sev = worst(sev, Warn)
		problems = append(problems, "mode none withdraws the policy")
		fixes = append(fixes, "switch to mode: testing, then enforce when your TLS reports (TLSRPT) are clean")
	}
	if p.Mode != "none" {
		sev, problems, fixes = t.checkSTSMX(ctx, &c, res, d, p, sev, problems, fixes)
	}
	if p.MaxAge < stsMinMaxAge {
		sev = worst(sev, Warn)
		problems = append(problems, fmt.Sprintf("max_age is %d seconds, under a day: senders forget the policy quickly", p.MaxAge))
		fixes = append(fixes, "raise max_age to a few weeks (RFC 8461 recommends weeks), e.g. max_age: 1209600")
	}
	c.Status = sev
	if len(problems) == 0 {
		c.Detail = fmt.Sprintf("Valid policy, mode %s, every MX host matches, max_age %s.", p.Mode, stsAge(p.MaxAge))
	} else {
		c.Detail = fmt.Sprintf("Policy (mode %s, max_age %s): %s.", p.Mode, stsAge(p.MaxAge), strings.Join(problems, "; "))
		f := fixes0(fixes)
		c.Fix = strings.ToUpper(f[:1]) + f[1:] + "."
	}
	r.add(c)
}

// checkSTSMX checks that every MX host of d matches a policy pattern.
func (t *target) checkSTSMX(ctx context.Context, c *Check, res dns.Resolver, d string, p *STSPolicy, sev Status, problems, fixes []string) (Status, []string, []string) {
	mxs, err := res.LookupMX(ctx, d)
	if err != nil && dns.IsNotFound(err) {
		// RFC 5321 5.1: without MX records the domain itself is the
		// mail host, and RFC 8461 4.1 applies to it as to an MX.
		c.Evidence = append(c.Evidence, "no MX record: senders deliver to "+d+" itself")
		mxs, err = []*net.MX{{Host: d, Pref: 0}}, nil
	}
	if err != nil {
		sev = worst(sev, Warn)
		problems = append(problems, "the MX hosts could not be compared with the policy: "+err.Error())
		fixes = append(fixes, "check the MX records (dns.mx)")
		return sev, problems, fixes
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
		sev = Fail
		problems = append(problems, "MX host(s) "+strings.Join(bad, ", ")+" match no mx line of the policy: under enforce, senders refuse to deliver to them")
		fixes = append(fixes, "add an \"mx: HOST\" line for each ("+strings.Join(bad, ", ")+") or a \"*.\" pattern covering them, and change the id in the TXT record")
	}
	return sev, problems, fixes
}

// stsRecordID returns the id= of an MTA-STS TXT record (RFC 8461 3.1:
// fields separated by ";", id = 1*32(ALPHA / DIGIT)).
func stsRecordID(rec string) (string, bool) {
	for _, f := range strings.Split(rec, ";") {
		k, v, ok := strings.Cut(strings.Trim(f, " \t"), "=")
		if !ok || k != "id" {
			continue
		}
		if v == "" || len(v) > 32 {
			return v, false
		}
		for i := 0; i < len(v); i++ {
			if !isAlpha(v[i]) && !(v[i] >= '0' && v[i] <= '9') {
				return v, false
			}
		}
		return v, true
	}
	return "", false
}

// stsTimeout bounds the whole fetch.
func stsTimeout(o *Options) time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return 20 * time.Second
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
