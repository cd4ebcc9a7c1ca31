// Package summary sends the postmaster a report mail once a day or a
// week ([summary] schedule): the console's overview figures for the
// period from the history store (accepted, delivered, deferred, bounced,
// rejected by reason), the queue size and the alerts in force, and the
// DMARC review of the aggregate reports received, with the sources that
// newly fail. The record of the last period sent (sent.go) survives a
// restart: a restart never sends a period twice, and a period missed
// while the server was down is sent once after the start.
package summary

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"postern/internal/dmarcreport"
)

// Series is what the summary reads of the history (history.Store).
type Series interface {
	Series(name string, step time.Duration, n int, now time.Time) []float64
}

// Reports are the DMARC aggregate reports received
// (dmarcreport.ReceivedStore).
type Reports interface {
	Load(since time.Time) ([]*dmarcreport.Feedback, error)
}

// Options configure a Reporter.
type Options struct {
	// Schedule is "daily" or "weekly" (UTC days, weeks from Monday);
	// Period, when set, replaces it by a fixed period.
	Schedule string
	Period   time.Duration

	Hostname   string // names the host in the mail
	Postmaster string // the mail's To: (the envelope is the caller's)
	History    Series
	Reports    Reports         // nil: no DMARC review
	Queue      func() int      // messages in the queue now
	Alerts     func() []string // alerts in force; nil when alerts are off
	// Send puts the finished message (RFC 5322, CRLF lines) in the queue.
	Send func(ctx context.Context, msg []byte) error
	// Dir keeps the record of the periods sent (data_dir/history).
	Dir string
	Log *slog.Logger
	Now func() time.Time // nil = time.Now
}

// Reporter sends the summaries.
type Reporter struct {
	opt  Options
	sent time.Time // end of the last period sent
}

// New returns a Reporter; it reads the record of what was sent.
func New(opt Options) (*Reporter, error) {
	if opt.Schedule != "daily" && opt.Schedule != "weekly" && opt.Period <= 0 {
		return nil, errors.New("summary: no schedule")
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &Reporter{opt: opt}
	sent, err := readSent(opt.Dir)
	if err != nil {
		// As on a first start: the next summary is that of the period
		// after this one; none is sent twice.
		opt.Log.Warn("summary: "+err.Error(), "then", "no summary for the periods before this start")
	}
	r.sent = sent
	return r, nil
}

// last returns the latest period that has ended at now.
func (r *Reporter) last(now time.Time) (start, end time.Time) {
	now = now.UTC()
	switch {
	case r.opt.Period > 0:
		end = now.Truncate(r.opt.Period)
		return end.Add(-r.opt.Period), end
	case r.opt.Schedule == "weekly":
		day := now.Truncate(24 * time.Hour)
		end = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // back to Monday
		return end.AddDate(0, 0, -7), end
	}
	end = now.Truncate(24 * time.Hour)
	return end.AddDate(0, 0, -1), end
}

// Run sends each period's summary after it ends, until ctx ends. On the
// very first start (no record) nothing is sent for the periods before.
func (r *Reporter) Run(ctx context.Context) {
	if r.sent.IsZero() {
		_, end := r.last(r.opt.Now())
		if err := r.record(end); err != nil {
			return
		}
	}
	start, end := r.last(r.opt.Now())
	// Look a few times per period, at least once a minute.
	every := min(max(end.Sub(start)/4, 100*time.Millisecond), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once sends the summary of the latest period that has ended, when it
// was not sent yet. The record is written first: a crash after it loses
// that summary rather than sending it twice.
func (r *Reporter) Once(ctx context.Context) {
	now := r.opt.Now()
	start, end := r.last(now)
	if !end.After(r.sent) {
		return
	}
	if err := r.record(end); err != nil {
		return
	}
	msg := r.mail(ctx, start, end, now)
	if err := r.opt.Send(ctx, msg); err != nil {
		r.opt.Log.Error("summary mail to the postmaster not queued", "period_end", end.Format(time.RFC3339), "err", err)
		return
	}
	r.opt.Log.Info("summary mail queued for the postmaster", "from", start.Format(time.RFC3339), "to", end.Format(time.RFC3339))
}

func (r *Reporter) record(end time.Time) error {
	if err := writeSent(r.opt.Dir, end); err != nil {
		r.opt.Log.Error("summary: the record of the mails sent cannot be written; no summary is sent until it can",
			"dir", r.opt.Dir, "err", err, "fix", "make the directory writable by the server's user (postern set-permissions)")
		return err
	}
	r.sent = end
	return nil
}
