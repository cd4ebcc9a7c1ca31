package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"

	"postern/internal/dns"
)

func (t *target) checkDMARC(ctx context.Context, r *Report, res dns.Resolver, d string) {
	name := "_dmarc." + d
	c := Check{ID: "dns.dmarc", Category: "dns", Title: "DMARC record for " + d}
	txts, err := res.LookupTXT(ctx, name)
	var recs []string
	for _, txt := range txts {
		if strings.HasPrefix(strings.TrimSpace(txt), "v=DMARC1") {
			recs = append(recs, txt)
			c.Evidence = append(c.Evidence, name+". TXT \""+txt+"\"")
		}
	}
	if err != nil && !dns.IsNotFound(err) {
		c.Status, c.Detail, c.Fix = Fail, "DMARC lookup failed: "+err.Error(), "Check the domain's name servers."
		r.add(c)
		return
	}
	switch len(recs) {
	case 0:
		c.Status = Fail
		c.Detail = "No DMARC record at " + name + "."
		c.Fix = "Publish TXT " + name + " \"v=DMARC1; p=none; rua=mailto:dmarc@" + d + "\", read the reports, then move to p=quarantine and p=reject."
		r.add(c)
		return
	case 1:
	default:
		// RFC 7489 6.6.3: more than one record means no DMARC at all.
		c.Status, c.Detail, c.Fix = Fail, "More than one DMARC record: receivers ignore them all.", "Keep exactly one v=DMARC1 record."
		r.add(c)
		return
	}
	rec, err := dmarc.Parse(recs[0])
	if err != nil {
		c.Status, c.Detail, c.Fix = Fail, "The DMARC record is invalid: "+err.Error()+".", "Fix the record's syntax (RFC 7489 6.3)."
		r.add(c)
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
	if rec.Percent != nil && *rec.Percent < 100 {
		st = worst(st, Warn)
		notes = append(notes, fmt.Sprintf("pct=%d applies the policy to part of the mail only", *rec.Percent))
	}
	if len(rec.ReportURIAggregate) == 0 {
		st = worst(st, Warn)
		notes = append(notes, "no rua=: you get no aggregate reports, so you cannot see who sends as you")
		if fix == "" {
			fix = "Add rua=mailto:dmarc@" + d + " to receive aggregate reports."
		}
	}
	notes = append(notes, "alignment adkim="+string(rec.DKIMAlignment)+" aspf="+string(rec.SPFAlignment))
	c.Status, c.Fix = st, fix
	c.Detail = strings.Join(notes, "; ") + "."
	r.add(c)
}
