package console

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"postern/internal/dmarcreport"
	"postern/internal/svgplot"
)

// maxDMARCRows bounds each DMARC table.
const maxDMARCRows = 100

type dmarcBody struct {
	Missing  string
	Summary  dmarcreport.Summary
	Plot     template.HTML
	BySource []dmarcreport.Tally
	ByDomain []dmarcreport.Tally
	ByOrg    []dmarcreport.Tally
	Failing  []dmarcreport.Failing
	Sent     []dmarcreport.SentPeriod
	// SentDown says why the list of reports sent cannot be shown (the
	// shared store does not answer, the record cannot be read).
	SentDown string
	// Days is the period summed, in days back from now.
	Days int
}

// dmarc sums the aggregate reports received in the last 30 days: failing
// sources first with their likely cause, pass and fail per day, then per
// header From domain, reporting organisation and source.
func (c *Console) dmarc(w http.ResponseWriter, r *http.Request, s *session) {
	var b dmarcBody
	if c.o.DMARCDir == "" {
		b.Missing = "DMARC reports are not kept by this server."
		render(w, http.StatusOK, "dmarc", pageView(s, "dmarc", "DMARC", b))
		return
	}
	now := c.o.Now()
	b.Days = dmarcDays(r.URL.Query().Get("days"))
	since := now.Add(-time.Duration(b.Days) * 24 * time.Hour)
	// Files that cannot be read are listed; the others are summed.
	reports, err := dmarcreport.ReceivedStore{Dir: filepath.Join(c.o.DMARCDir, "received")}.Load(since)
	b.Summary = dmarcreport.Summarize(since, reports)
	if err != nil {
		b.Summary.Problems = append(b.Summary.Problems, "reports that cannot be read: "+err.Error())
	}
	b.Failing = first(b.Summary.Failing, maxDMARCRows)
	b.BySource, b.ByDomain, b.ByOrg = first(b.Summary.BySource, maxDMARCRows), first(b.Summary.ByDomain, maxDMARCRows), first(b.Summary.ByReporter, maxDMARCRows)
	b.Plot = c.dmarcPlot(b.Summary.Days, now)
	sent, err := c.sentRecord().Sent(r.Context(), since)
	if err != nil {
		b.SentDown = "The list of the reports sent cannot be shown: " + err.Error()
	}
	b.Sent = first(sent, maxDMARCRows)
	render(w, http.StatusOK, "dmarc", pageView(s, "dmarc", "DMARC", b))
}

// SentRecord is where the record of the DMARC reports sent is kept
// (dmarcreport.SentLister).
type SentRecord interface {
	Sent(ctx context.Context, since time.Time) ([]dmarcreport.SentPeriod, error)
}

// ownSent is this node's own record, in its DMARC data directory.
type ownSent string

func (d ownSent) Sent(_ context.Context, since time.Time) ([]dmarcreport.SentPeriod, error) {
	sent, err := dmarcreport.SentReports(string(d), since)
	if err != nil {
		return nil, fmt.Errorf("the record in %s cannot be read: %w", filepath.Join(string(d), "sent"), err)
	}
	return sent, nil
}

func (c *Console) sentRecord() SentRecord {
	if c.o.DMARCSent != nil {
		return c.o.DMARCSent
	}
	return ownSent(c.o.DMARCDir)
}

func first[T any](v []T, n int) []T { return v[:min(len(v), n)] }

// dmarcDays is the period the page sums, from ?days=N: 30 by default,
// 1 to 36,500 (a century, for old report samples).
func dmarcDays(q string) int {
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 {
		return 30
	}
	return min(n, 36500)
}

// dmarcPlot draws pass and fail per day over the last 30 days.
func (c *Console) dmarcPlot(days []dmarcreport.Day, now time.Time) template.HTML {
	pass, fail := make([]float64, days30.n), make([]float64, days30.n)
	today := now.UTC().Truncate(24 * time.Hour)
	for _, d := range days {
		t, err := time.Parse("2006-01-02", d.Date)
		if err != nil {
			continue
		}
		i := days30.n - 1 - int(today.Sub(t)/(24*time.Hour))
		if i >= 0 && i < days30.n {
			pass[i] += float64(d.Pass)
			fail[i] += float64(d.Fail)
		}
	}
	return c.chart("DMARC results in received reports, "+days30.name, days30, now, []svgplot.Series{
		{Name: "pass", Values: pass}, {Name: "fail", Values: fail}})
}
