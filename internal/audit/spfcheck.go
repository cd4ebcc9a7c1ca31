package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"postern/internal/dns"
)

func (t *target) checkSPF(ctx context.Context, r *Report, res dns.Resolver, d string) {
	c := Check{ID: "dns.spf", Category: "dns", Title: "SPF record for " + d}
	txt, err := lookupSPF(ctx, res, d)
	if err != nil {
		if errors.Is(err, errNoSPF) {
			c.Status = Fail
			c.Detail = "No SPF record: anyone can send mail claiming to be from " + d + "."
		} else {
			c.Status = Fail
			c.Detail = "SPF lookup failed: " + err.Error()
		}
		c.Fix = "Publish one TXT record like \"v=spf1 mx -all\" listing the servers that send your mail."
		r.add(c)
		return
	}
	c.Evidence = []string{d + ". TXT \"" + txt + "\""}
	rec, err := ParseSPF(txt)
	if err != nil {
		c.Status = Fail
		c.Detail = "The SPF record is invalid (receivers treat it as a permanent error): " + err.Error() + "."
		c.Fix = "Fix the record's syntax (RFC 7208 4.6)."
		r.add(c)
		return
	}
	var problems []string
	sev := Pass
	var fixes []string
	q, redirect := rec.All()
	switch {
	case q == '+':
		sev = Fail
		problems = append(problems, "\"+all\" authorises every host on the internet")
		fixes = append(fixes, "end the record with -all")
	case q == '?':
		sev = worst(sev, Warn)
		problems = append(problems, "\"?all\" is neutral: it protects nothing")
		fixes = append(fixes, "end the record with -all")
	case q == '~':
		sev = worst(sev, Warn)
		problems = append(problems, "\"~all\" only soft-fails forged mail")
		fixes = append(fixes, "once your senders are all listed, move ~all to -all")
	case q == 0 && redirect == "":
		sev = worst(sev, Warn)
		problems = append(problems, "no \"all\" and no redirect: unlisted hosts get a neutral result")
		fixes = append(fixes, "end the record with -all")
	}
	for _, term := range rec.Terms {
		// RFC 7208 5.5: ptr SHOULD NOT be used.
		if term.Name == "ptr" && !term.Modifier {
			sev = worst(sev, Warn)
			problems = append(problems, "uses the ptr mechanism, which is slow and unreliable (RFC 7208 5.5)")
			fixes = append(fixes, "replace ptr with ip4/ip6 or a")
		}
	}
	counter := &spfCounter{ctx: ctx, res: res, seen: map[string]bool{}, ev: &c.Evidence}
	c.Evidence = nil
	n := counter.count(d, 0)
	// RFC 7208 4.6.4: more than 10 lookups is a permanent error.
	if n > spfLimit {
		sev = Fail
		problems = append(problems, fmt.Sprintf("needs %d DNS lookups, over the limit of %d, so receivers get a permanent error", n, spfLimit))
		fixes = append(fixes, "flatten includes into ip4/ip6 ranges or drop unused ones")
	}
	// RFC 7208 4.6.4: more than two void lookups (NXDOMAIN or no
	// records) is a permanent error; at exactly two, one more breaks it.
	for _, v := range counter.void {
		c.Evidence = append(c.Evidence, "void lookup: "+v)
	}
	switch nv := len(counter.void); {
	case nv > spfVoidLimit:
		sev = Fail
		problems = append(problems, fmt.Sprintf("%d lookups return no records (%s), over the limit of %d, so receivers get a permanent error", nv, strings.Join(counter.void, ", "), spfVoidLimit))
		fixes = append(fixes, "remove the mechanisms whose names no longer exist or have no records")
	case nv == spfVoidLimit:
		sev = worst(sev, Warn)
		problems = append(problems, fmt.Sprintf("%d lookups return no records (%s): one more and receivers get a permanent error (RFC 7208 4.6.4 allows two)", nv, strings.Join(counter.void, ", ")))
		fixes = append(fixes, "remove the mechanisms whose names no longer exist or have no records")
	}
	for _, p := range counter.perm {
		sev = Fail
		problems = append(problems, p)
		fixes = append(fixes, "fix or remove the include")
	}
	for _, note := range counter.notes {
		sev = worst(sev, Warn)
		problems = append(problems, note)
	}
	c.Status = sev
	if len(problems) == 0 {
		c.Detail = fmt.Sprintf("Valid SPF record ending in -all, %d DNS lookup(s).", n)
	} else {
		c.Detail = fmt.Sprintf("SPF record (%d DNS lookups): %s.", n, strings.Join(problems, "; "))
		f := fixes0(fixes)
		c.Fix = strings.ToUpper(f[:1]) + f[1:] + "."
	}
	r.add(c)
}

func fixes0(f []string) string {
	if len(f) == 0 {
		return "review the record"
	}
	return strings.Join(f, "; ")
}
