package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"postern/internal/dmarc"
	"postern/internal/dns"
)

// dmarcCandidate is one TXT string at _dmarc.D that receivers take for a
// DMARC record, as dmarc.ParseRecord read it.
type dmarcCandidate struct {
	rec *dmarc.Record
	err error
}

func (t *target) checkDMARC(ctx context.Context, r *Report, res dns.Resolver, d string) {
	name := "_dmarc." + d
	c := Check{ID: "dns.dmarc", Category: "dns", Title: "DMARC record for " + d}
	txts, err := res.LookupTXT(ctx, name)
	var recs []dmarcCandidate
	var malformed []string // v=DMARC1 records receivers discard, and why
	for _, txt := range txts {
		rec, perr := dmarc.ParseRecord(txt)
		var me *dmarc.MalformedError
		switch {
		case errors.As(perr, &me):
			malformed = append(malformed, me.Detail)
		case errors.Is(perr, dmarc.ErrNotDMARC):
			continue
		default:
			recs = append(recs, dmarcCandidate{rec, perr})
		}
		c.Evidence = append(c.Evidence, name+". TXT \""+txt+"\"")
	}
	if err != nil && !dns.IsNotFound(err) {
		c.Status, c.Detail, c.Fix = Fail, "DMARC lookup failed: "+err.Error(), "Check the domain's name servers."
		r.add(c)
		return
	}
	switch {
	case len(recs) == 0 && len(malformed) > 0:
		// RFC 7489 6.6.3: a record that is not a tag-list is discarded.
		c.Status = Fail
		c.Detail = "The DMARC record is invalid, so receivers ignore it: " + strings.Join(malformed, "; ") + "."
		c.Fix = "Fix the record's syntax (RFC 7489 6.3)."
	case len(recs) == 0:
		c.Status = Fail
		c.Detail = "No DMARC record at " + name + "."
		c.Fix = "Publish TXT " + name + " \"v=DMARC1; p=none; rua=mailto:dmarc@" + d + "\", read the reports, then move to p=quarantine and p=reject."
	case len(recs) > 1:
		// RFC 7489 6.6.3: more than one record means no DMARC at all.
		c.Status, c.Detail, c.Fix = Fail, "More than one DMARC record: receivers ignore them all.", "Keep exactly one v=DMARC1 record."
	default:
		judgeDMARC(&c, recs[0], d)
	}
	r.add(c)
}

// judgeDMARC judges the one DMARC record of d.
func judgeDMARC(c *Check, cand dmarcCandidate, d string) {
	rec := cand.rec
	if cand.err != nil || len(rec.Warnings) > 0 {
		// p missing or invalid, or sp invalid (RFC 7489 6.6.3), or tags
		// with syntax errors that receivers replace by their defaults
		// (RFC 7489 6.3).
		problems := rec.Warnings
		if cand.err != nil {
			problems = append([]string{cand.err.Error()}, problems...)
		}
		c.Status, c.Detail, c.Fix = Fail, "The DMARC record is invalid: "+strings.Join(problems, "; ")+".", "Fix the record's syntax (RFC 7489 6.3)."
		return
	}
	var notes []string
	st := Pass
	fix := ""
	switch rec.Policy {
	case dmarc.PolicyNone:
		st = Warn
		notes = append(notes, "p=none only monitors: forged mail is still delivered; fine as a first stage")
		fix = "After reading the aggregate reports for a few weeks, move to p=quarantine, then p=reject."
	default:
		notes = append(notes, "policy p="+string(rec.Policy))
	}
	if rec.Percent < 100 {
		st = worst(st, Warn)
		notes = append(notes, fmt.Sprintf("pct=%d applies the policy to part of the mail only", rec.Percent))
	}
	if len(rec.RUA) == 0 {
		st = worst(st, Warn)
		notes = append(notes, "no rua=: you get no aggregate reports, so you cannot see who sends as you")
		if fix == "" {
			fix = "Add rua=mailto:dmarc@" + d + " to receive aggregate reports."
		}
	}
	notes = append(notes, "alignment adkim="+string(rec.DKIMAlignment)+" aspf="+string(rec.SPFAlignment))
	c.Status, c.Fix = st, fix
	c.Detail = strings.Join(notes, "; ") + "."
}
