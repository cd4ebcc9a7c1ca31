package summary

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"postern/internal/dmarcreport"
)

// maxSources bounds the new failing sources listed.
const maxSources = 50

// source is one sending IP's DMARC failures in a period.
type source struct {
	ip      string
	fail    int64
	domains map[string]bool
}

// failing tallies the records that failed DMARC (neither aligned DKIM
// nor aligned SPF passed, as dmarcreport's Summarize counts them) by
// source IP, with their header-from domains.
func failing(reports []*dmarcreport.Feedback) map[string]*source {
	out := map[string]*source{}
	for _, f := range reports {
		for _, rec := range f.Records {
			pe := rec.Row.PolicyEvaluated
			if pe.DKIM == "pass" || pe.SPF == "pass" {
				continue
			}
			s := out[rec.Row.SourceIP]
			if s == nil {
				s = &source{ip: rec.Row.SourceIP, domains: map[string]bool{}}
				out[rec.Row.SourceIP] = s
			}
			s.fail += int64(rec.Row.Count)
			dom := rec.Identifiers.HeaderFrom
			if dom == "" {
				dom = f.Policy.Domain
			}
			s.domains[dom] = true
		}
	}
	return out
}

// split sorts the reports by the period their date range ends in.
func split(reports []*dmarcreport.Feedback, prevStart, start, end time.Time) (prev, cur []*dmarcreport.Feedback) {
	for _, f := range reports {
		e := time.Unix(int64(f.Metadata.DateRange.End), 0)
		switch {
		case !e.Before(start) && e.Before(end):
			cur = append(cur, f)
		case !e.Before(prevStart) && e.Before(start):
			prev = append(prev, f)
		}
	}
	return prev, cur
}

// dmarcReview writes the totals of the reports received for the period
// and the sources that fail in it but did not in the period before.
func (r *Reporter) dmarcReview(_ context.Context, b *strings.Builder, start, end time.Time) {
	prevStart := start.Add(-end.Sub(start))
	all, err := r.opt.Reports.Load(prevStart)
	if err != nil {
		// Reports that do not decode are named; the rest still count.
		fmt.Fprintf(b, "Some stored DMARC reports could not be read: %s\n", clean(err.Error()))
	}
	prev, cur := split(all, prevStart, start, end)
	s := dmarcreport.Summarize(start, cur)
	fmt.Fprintf(b, "DMARC aggregate reports received for the period: %d, from %d reporters\n", s.Reports, len(s.Reporters))
	if len(s.Reporters) > 0 {
		names := make([]string, 0, min(len(s.Reporters), 10)+1)
		for _, o := range s.Reporters[:min(len(s.Reporters), 10)] {
			names = append(names, clean(o))
		}
		if len(s.Reporters) > 10 {
			names = append(names, fmt.Sprintf("and %d more", len(s.Reporters)-10))
		}
		fmt.Fprintf(b, "  reporters: %s\n", strings.Join(names, ", "))
	}
	fmt.Fprintf(b, "  messages %d: pass %d, fail %d (quarantined %d, rejected %d)\n",
		s.Total.Messages, s.Total.Pass, s.Total.Fail, s.Total.Quarantined, s.Total.Rejected)
	before := failing(prev)
	var fresh []*source
	for ip, src := range failing(cur) {
		if before[ip] == nil {
			fresh = append(fresh, src)
		}
	}
	sort.Slice(fresh, func(i, j int) bool {
		if fresh[i].fail != fresh[j].fail {
			return fresh[i].fail > fresh[j].fail
		}
		return fresh[i].ip < fresh[j].ip
	})
	if len(fresh) == 0 {
		b.WriteString("\nNew failing sources: none\n")
		return
	}
	b.WriteString("\nNew failing sources (DMARC failures in this period, none in the one before):\n")
	for i, src := range fresh {
		if i == maxSources {
			fmt.Fprintf(b, "  and %d more (postern dmarc report lists them all)\n", len(fresh)-i)
			break
		}
		doms := make([]string, 0, len(src.domains))
		for d := range src.domains {
			doms = append(doms, clean(d))
		}
		sort.Strings(doms)
		if len(doms) > 5 {
			doms = append(doms[:5], fmt.Sprintf("and %d more", len(doms)-5))
		}
		fmt.Fprintf(b, "  %-39s %6d failing  header from: %s\n", clean(src.ip), src.fail, strings.Join(doms, ", "))
	}
	b.WriteString("If a source is yours, add it to the domain's SPF record or have it sign with DKIM;\nif not, someone sends mail in your name.\n")
}
