package summary

import (
	"context"
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"postern/internal/envelope"
	"postern/internal/history"
)

// counts are the period's totals from the history.
type counts struct {
	accepted, delivered, deferred, bounced float64
	rejected                               map[string]float64 // by reason
}

// figures sums the history's buckets of the period: hours for periods of
// whole hours, else minutes (a period shorter than a minute counts the
// minute it ends in).
func (r *Reporter) figures(start, end time.Time) counts {
	step := time.Hour
	if d := end.Sub(start); d%time.Hour != 0 {
		step = time.Minute
	}
	n := int((end.Sub(start) + step - 1) / step)
	at := end.Add(-time.Nanosecond)
	sum := func(name string) float64 {
		t := 0.0
		for _, v := range r.opt.History.Series(name, step, n, at) {
			t += v
		}
		return t
	}
	c := counts{accepted: sum(history.Accepted), delivered: sum(history.Delivered), deferred: sum(history.Deferred),
		bounced: sum(history.Bounced), rejected: map[string]float64{}}
	for _, reason := range history.Reasons {
		c.rejected[reason] = sum(history.RejectedPrefix + reason)
	}
	return c
}

// mail is the summary message: plain text, CRLF lines. Nothing read
// from mail reaches the header; in the body it is cleaned (clean).
func (r *Reporter) mail(ctx context.Context, start, end, now time.Time) []byte {
	host := headerSafe(r.opt.Hostname)
	if host == "" {
		host = "localhost"
	}
	what := "daily"
	switch {
	case r.opt.Period > 0:
		what = "periodic"
	case r.opt.Schedule == "weekly":
		what = "weekly"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: postern <MAILER-DAEMON@%s>\r\n", host)
	fmt.Fprintf(&b, "To: %s\r\n", headerSafe(r.opt.Postmaster))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8",
		fmt.Sprintf("[postern] %s summary of %s, %s", what, host, start.UTC().Format("2006-01-02 15:04"))))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s.summary@%s>\r\n", envelope.NewID(now), host)
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	body := r.body(ctx, start, end)
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}

// body is the text, with "\n" line ends.
func (r *Reporter) body(ctx context.Context, start, end time.Time) string {
	var b strings.Builder
	layout := "2006-01-02 15:04"
	if start.Second() != 0 || end.Second() != 0 {
		layout += ":05"
	}
	fmt.Fprintf(&b, "Postern on %s, from %s to %s UTC.\n\n", clean(r.opt.Hostname), start.UTC().Format(layout), end.UTC().Format(layout))
	c := r.figures(start, end)
	total := 0.0
	for _, v := range c.rejected {
		total += v
	}
	b.WriteString("Messages\n")
	for _, l := range []struct {
		k string
		v float64
	}{{"accepted", c.accepted}, {"delivered", c.delivered}, {"deferred", c.deferred}, {"bounced", c.bounced}, {"rejected", total}} {
		fmt.Fprintf(&b, "  %-12s %8.0f\n", l.k, l.v)
	}
	for _, reason := range history.Reasons {
		if v := c.rejected[reason]; v > 0 {
			fmt.Fprintf(&b, "    %-10s %8.0f\n", reason, v)
		}
	}
	if r.opt.Queue != nil {
		fmt.Fprintf(&b, "\nQueue now: %d messages\n", r.opt.Queue())
	}
	switch {
	case r.opt.Alerts == nil:
		b.WriteString("Alerts: spike detection is off ([alert] enabled = false)\n")
	case len(r.opt.Alerts()) == 0:
		b.WriteString("Alerts in force: none\n")
	default:
		b.WriteString("Alerts in force:\n")
		for _, a := range r.opt.Alerts() {
			fmt.Fprintf(&b, "  %s\n", clean(a))
		}
	}
	if r.opt.Reports != nil {
		b.WriteString("\n")
		r.dmarcReview(ctx, &b, start, end)
	}
	return b.String()
}

// maxField bounds a string from mail in the text.
const maxField = 200

// clean makes a string from hostile input safe for one line of the
// text: valid UTF-8, no control or format characters (no CR, LF, tab,
// escape or bidi override), at most maxField characters.
func clean(s string) string {
	var b strings.Builder
	n := 0
	for _, c := range strings.ToValidUTF8(s, "\uFFFD") {
		if n == maxField {
			b.WriteString("...")
			break
		}
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			c = '?'
		}
		b.WriteRune(c)
		n++
	}
	return b.String()
}

// headerSafe keeps only visible characters (RFC 6532 allows UTF-8 in
// an address): the header holds configured names only, and not even
// those may break or fold a line.
func headerSafe(s string) string {
	return strings.Map(func(c rune) rune {
		if !unicode.IsGraphic(c) || unicode.IsSpace(c) || c == utf8.RuneError {
			return -1
		}
		return c
	}, strings.ToValidUTF8(s, ""))
}
