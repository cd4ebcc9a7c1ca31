package dmarcreport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retention is how long evaluations are kept after the period they were
// reported in, and how far back a report missed by downtime or a crash
// is still sent.
const Retention = 7 * 24 * time.Hour

// period is one report period [begin, end).
type period struct{ begin, end time.Time }

// The record of what was sent, as Backend claim keys:
//
//	aggregate-<begin>-<end>.sent-<hash>  one report message queued (policy domain and mailbox hashed)
//	aggregate-<begin>-<end>.done         every report of the period queued
//	aggregate-<begin>-<end>              the period claimed by earlier versions (read only)
//	aggregate-start, aggregate-start-<interval>s  reports have been running (with this interval)
const startKey = "aggregate-start"

func (p period) key() string     { return fmt.Sprintf("aggregate-%d-%d", p.begin.Unix(), p.end.Unix()) }
func (p period) doneKey() string { return p.key() + ".done" }

func (p period) sentKey(policyDomain, rcpt string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(policyDomain) + "\x00" + strings.ToLower(rcpt)))
	return p.key() + ".sent-" + hex.EncodeToString(sum[:12])
}

// claimPeriod reads the period of a claim key made by period's methods.
func claimPeriod(key string) (begin, end time.Time, ok bool) {
	rest, ok := strings.CutPrefix(key, "aggregate-")
	if !ok {
		return begin, end, false
	}
	rest, _, _ = strings.Cut(rest, ".")
	bs, es, ok := strings.Cut(rest, "-")
	if !ok {
		return begin, end, false
	}
	b, err1 := strconv.ParseInt(bs, 10, 64)
	e, err2 := strconv.ParseInt(es, 10, 64)
	if err1 != nil || err2 != nil || b < 0 || e < b || bs != strconv.FormatInt(b, 10) || es != strconv.FormatInt(e, 10) {
		return begin, end, false
	}
	return time.Unix(b, 0).UTC(), time.Unix(e, 0).UTC(), true
}

// MaxCatchUp bounds how many periods back a missed report is still sent:
// a week of hourly reports. Only intervals under an hour (test and lab
// set-ups) reach it before Retention does; it keeps each tick's look at
// what was sent (one lookup per period) as small as with hourly reports.
const MaxCatchUp = 168

// periods returns the complete periods whose reports may still be sent
// at now, oldest first: the last complete one and those before it that
// began at most Retention before its end (the evaluations kept), at
// most MaxCatchUp in all.
func (r *Reporter) periods(now time.Time) []period {
	_, last := r.Period(now)
	oldest := last.Add(-Retention)
	if span := MaxCatchUp * r.opt.Interval; span < Retention {
		oldest = last.Add(-span)
	}
	var ps []period
	for end := last; !end.Add(-r.opt.Interval).Before(oldest); end = end.Add(-r.opt.Interval) {
		ps = append(ps, period{end.Add(-r.opt.Interval), end})
	}
	for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
		ps[i], ps[j] = ps[j], ps[i]
	}
	return ps
}

// Tick sends the aggregate reports not yet sent of every complete period
// within Retention, oldest first, handing each message to send. A message
// is recorded as sent once send returns nil; one that send refuses stays
// unrecorded and is built and tried again at the next Tick (the same
// report, with the same report ID). A period whose reports have all been
// sent, or that has none, is recorded as done and skipped from then on.
// The error is about the record or the evaluations, or counts the
// reports send refused.
func (r *Reporter) Tick(ctx context.Context, send func(context.Context, Outgoing) error) error {
	ps := r.periods(r.opt.Now())
	if err := r.firstStart(ctx, ps); err != nil {
		return err
	}
	var errs []error
	failed := 0
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := r.backend.Claimed(ctx, p.doneKey())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if done {
			continue
		}
		n, err := r.sendPeriod(ctx, p, send)
		failed += n
		if err != nil {
			errs = append(errs, fmt.Errorf("period %s to %s: %w",
				p.begin.Format(time.DateTime), p.end.Format(time.DateTime), err))
		}
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d reports not queued; tried again at the next tick", failed))
	}
	return errors.Join(errs...)
}

// sendPeriod builds the reports of p and sends those not yet sent,
// returning how many send refused. p is done when none was refused and
// no other node was still sending one.
func (r *Reporter) sendPeriod(ctx context.Context, p period, send func(context.Context, Outgoing) error) (int, error) {
	msgs, err := r.Build(ctx, p.begin, p.end)
	failed, busy := 0, 0
	if errors.Is(err, errTryLater) {
		// The reports that could be built go out now; the period is
		// not done, so the others are built and tried at the next tick.
		r.log.WarnContext(ctx, "dmarc report destination not checked; tried again at the next tick", "err", err)
		failed++
	} else if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		res, err := r.sendOne(ctx, p.sentKey(m.PolicyDomain, strings.Join(m.To, ",")), m, send)
		if err != nil {
			return failed, err
		}
		switch res {
		case sendFailed:
			failed++
		case sendBusy:
			busy++
		}
	}
	if failed > 0 || busy > 0 {
		return failed, nil
	}
	_, err = r.backend.Claim(ctx, p.doneKey())
	return 0, err
}

// The outcomes of sendOne.
const (
	sendDone   = iota // sent now, or before
	sendFailed        // send refused it, or it was not recorded
	sendBusy          // another node holds its lease: it sends it
)

// LeaseTTL is how long a node may take to queue one report before
// another node may take it over (after a crash); it sends it again then,
// with the same report ID.
const LeaseTTL = 10 * time.Minute

// Leaser is a Backend shared by several nodes. A node takes a report's
// lease before it sends it, so that of two nodes trying at the same
// moment exactly one sends; Unlease gives it back once the report is
// recorded as sent (or could not be sent).
type Leaser interface {
	Lease(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Unlease(ctx context.Context, key string) error
}

// sendOne sends the report m recorded under key unless it was sent.
func (r *Reporter) sendOne(ctx context.Context, key string, m Outgoing, send func(context.Context, Outgoing) error) (int, error) {
	sent, err := r.backend.Claimed(ctx, key)
	if err != nil || sent {
		return sendDone, err
	}
	if l, ok := r.backend.(Leaser); ok {
		held, err := l.Lease(ctx, key+".lease", LeaseTTL)
		if err != nil || !held {
			return sendBusy, err
		}
		defer l.Unlease(context.WithoutCancel(ctx), key+".lease")
		// Another node may have sent it between our look and the lease.
		if sent, err := r.backend.Claimed(ctx, key); err != nil || sent {
			return sendDone, err
		}
	}
	if err := send(ctx, m); err != nil {
		r.log.ErrorContext(ctx, "dmarc report not queued; tried again at the next tick",
			"domain", m.PolicyDomain, "to", m.To, "report_id", m.ReportID, "err", err)
		return sendFailed, nil
	}
	if _, err := r.backend.Claim(ctx, key); err != nil {
		// Queued but not recorded: it goes out again at the next
		// tick, with the same report ID.
		r.log.ErrorContext(ctx, "dmarc report queued but not recorded as sent",
			"domain", m.PolicyDomain, "to", m.To, "report_id", m.ReportID, "err", err)
		return sendFailed, nil
	}
	return sendDone, nil
}

// firstStart runs once when reports start, and again when the interval
// changes: it records the complete periods within Retention as done, so
// that mail received before reports were running (or reported under
// another interval) is not reported now, all at once. On the very first
// start, the period that has just ended is still reported, as it would
// have been had the server been running, unless an earlier version of
// postern claimed it already.
func (r *Reporter) firstStart(ctx context.Context, ps []period) error {
	ikey := fmt.Sprintf("%s-%ds", startKey, int64(r.opt.Interval/time.Second))
	ok, err := r.backend.Claimed(ctx, ikey)
	if err != nil || ok {
		return err
	}
	started, err := r.backend.Claimed(ctx, startKey)
	if err != nil {
		return err
	}
	for i, p := range ps {
		if i == len(ps)-1 && !started {
			old, err := r.backend.Claimed(ctx, p.key())
			if err != nil {
				return err
			}
			if !old {
				continue
			}
		}
		if _, err := r.backend.Claim(ctx, p.doneKey()); err != nil {
			return err
		}
	}
	// Recorded last: a crash above runs all of this again.
	if _, err := r.backend.Claim(ctx, startKey); err != nil {
		return err
	}
	if _, err := r.backend.Claim(ctx, ikey); err != nil {
		return err
	}
	if len(ps) > 0 {
		from := ps[len(ps)-1].end
		if !started {
			from = ps[len(ps)-1].begin
		}
		r.log.InfoContext(ctx, "dmarc reports start; earlier periods are not reported",
			"interval", r.opt.Interval, "first_start", !started, "from", from)
	}
	return nil
}
