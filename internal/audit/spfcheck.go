package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"postern/internal/dns"
	"postern/internal/spf"
)

// checkSPF reports on the domain's SPF record: found and valid, what its
// ending and its terms mean, and what a receiver's lookups through it
// would find. The record format and the walk are internal/spf's.
func (t *target) checkSPF(ctx context.Context, r *Report, res dns.Resolver, d string) {
	c := Check{ID: "dns.spf", Category: "dns", Title: "SPF record for " + d}
	rec, ok := fetchSPF(ctx, &c, res, d)
	if !ok {
		r.add(c)
		return
	}
	f := findings{sev: Pass}
	f.judgeEnding(rec)
	f.judgeTerms(rec)
	n := f.judgeLookups(&c, spf.CountLookups(ctx, res, d))
	c.Status = f.sev
	if len(f.problems) == 0 {
		c.Detail = fmt.Sprintf("Valid SPF record ending in -all, %d DNS lookup(s).", n)
	} else {
		c.Detail = fmt.Sprintf("SPF record (%d DNS lookups): %s.", n, strings.Join(f.problems, "; "))
		fix := fixes0(f.fixes)
		c.Fix = strings.ToUpper(fix[:1]) + fix[1:] + "."
	}
	r.add(c)
}

// fetchSPF looks the record up and parses it, filling c when it fails.
func fetchSPF(ctx context.Context, c *Check, res dns.Resolver, d string) (*spf.Record, bool) {
	txt, err := spf.FetchRecord(ctx, res, d)
	if err != nil {
		c.Status = Fail
		if errors.Is(err, spf.ErrNoRecord) {
			c.Detail = "No SPF record: anyone can send mail claiming to be from " + d + "."
		} else {
			c.Detail = "SPF lookup failed: " + err.Error()
		}
		c.Fix = "Publish one TXT record like \"v=spf1 mx -all\" listing the servers that send your mail."
		return nil, false
	}
	rec, err := spf.ParseRecord(txt)
	if err != nil {
		c.Evidence = []string{d + ". TXT \"" + txt + "\""}
		c.Status = Fail
		c.Detail = "The SPF record is invalid (receivers treat it as a permanent error): " + err.Error() + "."
		c.Fix = "Fix the record's syntax (RFC 7208 4.6)."
		return nil, false
	}
	return rec, true
}

// findings collects what is wrong with a record, the worst status, and
// the fixes, in the order they are found.
type findings struct {
	sev      Status
	problems []string
	fixes    []string
}

// add records a problem; fix "" adds none.
func (f *findings) add(st Status, problem, fix string) {
	f.sev = worst(f.sev, st)
	f.problems = append(f.problems, problem)
	if fix != "" {
		f.fixes = append(f.fixes, fix)
	}
}

// verdict is what a finding says: its status, the problem and the fix.
type verdict struct {
	status       Status
	problem, fix string
}

// endings is what the qualifier of "all" means for mail from hosts the
// record does not list (RFC 7208 5.1, 4.6.2); -all needs no comment.
var endings = map[byte]verdict{
	'+': {Fail, "\"+all\" authorises every host on the internet", "end the record with -all"},
	'?': {Warn, "\"?all\" is neutral: it protects nothing", "end the record with -all"},
	'~': {Warn, "\"~all\" only soft-fails forged mail", "once your senders are all listed, move ~all to -all"},
}

// noEnding is the verdict on a record without all and without redirect:
// RFC 7208 4.7, the result is neutral.
var noEnding = verdict{Warn, "no \"all\" and no redirect: unlisted hosts get a neutral result", "end the record with -all"}

// judgeEnding judges how the record ends.
func (f *findings) judgeEnding(rec *spf.Record) {
	q, redirect := rec.All()
	if v, ok := endings[q]; ok {
		f.add(v.status, v.problem, v.fix)
	} else if q == 0 && redirect == "" {
		f.add(noEnding.status, noEnding.problem, noEnding.fix)
	}
}

// judgeTerms judges the record's mechanisms.
func (f *findings) judgeTerms(rec *spf.Record) {
	for _, term := range rec.Terms {
		// RFC 7208 5.5: ptr SHOULD NOT be used.
		if term.Name == "ptr" && !term.Modifier {
			f.add(Warn, "uses the ptr mechanism, which is slow and unreliable (RFC 7208 5.5)", "replace ptr with ip4/ip6 or a")
		}
	}
}

// judgeLookups judges the walk through the record and its includes,
// adding the records read and the void lookups to the evidence; it
// returns the number of lookups.
func (f *findings) judgeLookups(c *Check, lc *spf.LookupCount) int {
	for _, rec := range lc.Records {
		c.Evidence = append(c.Evidence, rec.Domain+". TXT \""+rec.Text+"\"")
	}
	n := lc.Lookups
	// RFC 7208 4.6.4: more than 10 lookups is a permanent error.
	if n > spf.LookupLimit {
		f.add(Fail, fmt.Sprintf("needs %d DNS lookups, over the limit of %d, so receivers get a permanent error", n, spf.LookupLimit),
			"flatten includes into ip4/ip6 ranges or drop unused ones")
	}
	// RFC 7208 4.6.4: more than two void lookups (NXDOMAIN or no
	// records) is a permanent error; at exactly two, one more breaks it.
	for _, v := range lc.Void {
		c.Evidence = append(c.Evidence, "void lookup: "+v)
	}
	const voidFix = "remove the mechanisms whose names no longer exist or have no records"
	switch nv := len(lc.Void); {
	case nv > spf.VoidLookupLimit:
		f.add(Fail, fmt.Sprintf("%d lookups return no records (%s), over the limit of %d, so receivers get a permanent error", nv, strings.Join(lc.Void, ", "), spf.VoidLookupLimit), voidFix)
	case nv == spf.VoidLookupLimit:
		f.add(Warn, fmt.Sprintf("%d lookups return no records (%s): one more and receivers get a permanent error (RFC 7208 4.6.4 allows two)", nv, strings.Join(lc.Void, ", ")), voidFix)
	}
	for _, p := range lc.Perm {
		f.add(Fail, p, "fix or remove the include")
	}
	for _, note := range lc.Notes {
		f.add(Warn, note, "")
	}
	return n
}

func fixes0(f []string) string {
	if len(f) == 0 {
		return "review the record"
	}
	return strings.Join(f, "; ")
}
