package dmarcreport

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"
)

// Tally counts messages for one source IP or one sending domain.
type Tally struct {
	Key         string `json:"key"`
	Messages    int64  `json:"messages"`
	Pass        int64  `json:"pass"`        // DMARC pass: aligned DKIM or SPF
	Fail        int64  `json:"fail"`        // neither aligned
	Quarantined int64  `json:"quarantined"` // disposition quarantine
	Rejected    int64  `json:"rejected"`    // disposition reject
	DKIMPass    int64  `json:"dkim_pass"`   // aligned DKIM pass
	SPFPass     int64  `json:"spf_pass"`    // aligned SPF pass
}

func (t *Tally) add(r Record) {
	n := int64(r.Row.Count)
	pe := r.Row.PolicyEvaluated
	t.Messages += n
	// RFC 7489 4.2: DMARC passes when either aligned mechanism passed.
	if pe.DKIM == "pass" || pe.SPF == "pass" {
		t.Pass += n
	} else {
		t.Fail += n
	}
	if pe.DKIM == "pass" {
		t.DKIMPass += n
	}
	if pe.SPF == "pass" {
		t.SPFPass += n
	}
	switch pe.Disposition {
	case "quarantine":
		t.Quarantined += n
	case "reject":
		t.Rejected += n
	}
}

// Summary is what "review DMARC reports weekly" needs: who sends mail as
// our domains, and how much of it passes.
type Summary struct {
	Since     time.Time `json:"since"`
	Reports   int       `json:"reports"`
	Reporters []string  `json:"reporters"`
	Total     Tally     `json:"total"`
	BySource  []Tally   `json:"by_source_ip"`
	ByDomain  []Tally   `json:"by_header_from"`
	// ByReporter tallies per reporting organisation, Days per UTC day;
	// Failing lists the sources whose mail failed, most failures first,
	// each with its likely cause (causes.go).
	ByReporter []Tally   `json:"by_reporter"`
	Days       []Day     `json:"days"`
	Failing    []Failing `json:"failing_sources"`
	Problems   []string  `json:"problems,omitempty"`
}

// Summarize tallies the reports per source IP, per header_from domain and
// per reporting organisation, largest first, per day, and lists the
// failing sources with their likely cause.
func Summarize(since time.Time, reports []*Feedback) Summary {
	s := Summary{Since: since, Reports: len(reports), Total: Tally{Key: "total"}}
	bySrc, byDom, orgs := map[string]*Tally{}, map[string]*Tally{}, map[string]bool{}
	for _, f := range reports {
		orgs[f.Metadata.OrgName] = true
		for _, p := range f.Problems {
			s.Problems = append(s.Problems, fmt.Sprintf("%s report %s: %s", f.Metadata.OrgName, f.Metadata.ReportID, p))
		}
		for _, r := range f.Records {
			s.Total.add(r)
			get(bySrc, r.Row.SourceIP).add(r)
			dom := r.Identifiers.HeaderFrom
			if dom == "" {
				dom = f.Policy.Domain
			}
			get(byDom, dom).add(r)
		}
	}
	s.Reporters = sortedKeys(orgs)
	s.BySource, s.ByDomain = sortTallies(bySrc), sortTallies(byDom)
	s.addDetail(reports)
	return s
}

func get(m map[string]*Tally, k string) *Tally {
	t := m[k]
	if t == nil {
		t = &Tally{Key: k}
		m[k] = t
	}
	return t
}

func sortTallies(m map[string]*Tally) []Tally {
	out := make([]Tally, 0, len(m))
	for _, t := range m {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Messages != out[j].Messages {
			return out[i].Messages > out[j].Messages
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// WriteText prints the summary as tables for an admin.
func (s Summary) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "DMARC aggregate reports since %s: %d reports from %d reporters\n",
		s.Since.UTC().Format("2006-01-02 15:04 MST"), s.Reports, len(s.Reporters))
	fmt.Fprintf(w, "messages %d: pass %d, fail %d (quarantined %d, rejected %d)\n\n",
		s.Total.Messages, s.Total.Pass, s.Total.Fail, s.Total.Quarantined, s.Total.Rejected)
	table := func(title string, ts []Tally) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tmessages\tpass\tfail\tdkim ok\tspf ok\tquarantined\trejected\t\n", title)
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", t.Key, t.Messages, t.Pass, t.Fail, t.DKIMPass, t.SPFPass, t.Quarantined, t.Rejected)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	table("sending domain", s.ByDomain)
	table("source IP", s.BySource)
	for _, p := range s.Problems {
		fmt.Fprintln(w, "problem:", p)
	}
	return nil
}
