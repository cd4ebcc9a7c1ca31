package console

import (
	"html/template"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"postern/internal/svgplot"
)

// Reasons are the rejection reasons of the history, in the order shown.
var Reasons = []string{"relay", "spf", "dmarc", "dnsbl", "limits", "greylist", "milter", "protocol", "other"}

// flowSeries are the message counters of the flow plots.
var flowSeries = []string{"accepted", "delivered", "deferred", "bounced"}

// maxOutboundPlots bounds the outbound plots: the busiest keys.
const maxOutboundPlots = 8

// span is one time range of the plots.
type span struct {
	step   time.Duration
	n      int
	name   string // "per hour, last 24 hours"
	format string // the bucket labels' time format
	every  int    // label every so many buckets
}

var (
	hours24 = span{time.Hour, 24, "per hour, last 24 hours", "15:04", 3}
	days30  = span{24 * time.Hour, 30, "per day, last 30 days", "01-02", 5}
)

type reasonRow struct {
	Reason     string
	Day, Month int64 // counts: shown whole, never as 1.2e+06
}

type overviewBody struct {
	NoHistory bool
	Flowing   string // one sentence: is mail flowing
	FlowOK    bool
	Totals    []reasonRow // the flow counters, last 24 h and 30 days
	Rejected  []reasonRow
	Queue     queueSummary
	Plots     []template.HTML
	Outbound  []template.HTML
	Alerts    []string
	Problems  []string
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) {
	now := c.o.Now()
	b := overviewBody{NoHistory: c.o.History == nil, Queue: summarize(c.o.Queue.Items(), now)}
	if c.o.Alerts != nil {
		b.Alerts = c.o.Alerts()
	}
	if c.o.Problems != nil {
		b.Problems = c.o.Problems()
	}
	b.Flowing, b.FlowOK = c.flowing(now)
	for _, name := range flowSeries {
		b.Totals = append(b.Totals, reasonRow{Reason: name, Day: whole(c.series(name, hours24, now)), Month: whole(c.series(name, days30, now))})
	}
	for _, reason := range Reasons {
		b.Rejected = append(b.Rejected, reasonRow{Reason: reason,
			Day: whole(c.series("rejected:"+reason, hours24, now)), Month: whole(c.series("rejected:"+reason, days30, now))})
	}
	for _, sp := range []span{hours24, days30} {
		b.Plots = append(b.Plots, c.flowPlot(sp, now), c.rejectPlot(sp, now))
	}
	b.Plots = append(b.Plots, c.chart("Queue size, "+hours24.name, hours24, now, []svgplot.Series{
		{Name: "queued", Kind: svgplot.Line, Values: c.series("queue", hours24, now)}}))
	b.Outbound = c.outboundPlots(now)
	render(w, http.StatusOK, "overview", pageView(s, "overview", "Overview", b))
}

// series is one history series over sp; zeros without a history.
func (c *Console) series(name string, sp span, now time.Time) []float64 {
	if c.o.History == nil {
		return make([]float64, sp.n)
	}
	return c.o.History.Series(name, sp.step, sp.n, now)
}

// whole is the sum of counts, rounded.
func whole(v []float64) int64 { return int64(math.Round(sum(v))) }

func sum(v []float64) float64 {
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t
}

// flowing says in one sentence whether mail came in and went out in the
// last hour.
func (c *Console) flowing(now time.Time) (string, bool) {
	if c.o.History == nil {
		return "No history yet: the counters appear here once the server has kept them for an hour.", true
	}
	hour := span{time.Minute, 60, "", "", 0}
	acc, del := sum(c.series("accepted", hour, now)), sum(c.series("delivered", hour, now))
	def := sum(c.series("deferred", hour, now))
	switch {
	case acc == 0 && del == 0:
		return "No mail accepted or delivered in the last hour.", false
	case del == 0 && def > 0:
		return "Mail comes in but none was delivered in the last hour: " + fmtN(def) + " deliveries deferred.", false
	}
	return "Mail is flowing: " + fmtN(acc) + " accepted and " + fmtN(del) + " delivered in the last hour.", true
}

func fmtN(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func (c *Console) chart(title string, sp span, now time.Time, series []svgplot.Series) template.HTML {
	labels := make([]string, sp.n)
	for i := range labels {
		if (sp.n-1-i)%sp.every == 0 {
			labels[i] = now.Add(-time.Duration(sp.n-1-i) * sp.step).UTC().Format(sp.format)
		}
	}
	// svgplot escapes every text it writes.
	return template.HTML(svgplot.Chart{Title: title, Labels: labels, Series: series}.SVG())
}

func (c *Console) flowPlot(sp span, now time.Time) template.HTML {
	var ss []svgplot.Series
	for _, name := range flowSeries {
		ss = append(ss, svgplot.Series{Name: name, Kind: svgplot.Line, Values: c.series(name, sp, now)})
	}
	return c.chart("Messages "+sp.name, sp, now, ss)
}

func (c *Console) rejectPlot(sp span, now time.Time) template.HTML {
	var ss []svgplot.Series
	for _, reason := range Reasons {
		ss = append(ss, svgplot.Series{Name: reason, Values: c.series("rejected:"+reason, sp, now)})
	}
	return c.chart("Rejected by reason, "+sp.name, sp, now, ss)
}

// outboundPlots are the busiest outbound keys of the last 24 hours, each
// with its spike threshold.
func (c *Console) outboundPlots(now time.Time) []template.HTML {
	if c.o.History == nil {
		return nil
	}
	type key struct {
		name  string
		v     []float64
		total float64
	}
	var keys []key
	for _, n := range c.o.History.Names("outbound:") {
		v := c.series(n, hours24, now)
		keys = append(keys, key{strings.TrimPrefix(n, "outbound:"), v, sum(v)})
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].total > keys[j].total })
	var out []template.HTML
	for i, k := range keys {
		if i == maxOutboundPlots {
			break
		}
		out = append(out, c.chart("Outbound of "+k.name+", "+hours24.name, hours24, now, []svgplot.Series{
			{Name: "sent", Kind: svgplot.Bar, Values: k.v},
			{Name: "spike threshold", Kind: svgplot.Dashed, Values: c.series("threshold:"+k.name, hours24, now)},
		}))
	}
	return out
}
