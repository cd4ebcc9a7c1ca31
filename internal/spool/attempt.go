package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"postern/internal/dsn"
	"postern/internal/envelope"
)

// outcome is one recipient's result in an attempt.
type outcome struct {
	i       int   // index in the envelope
	err     error // nil: delivered
	expired bool  // failed because the queue lifetime ran out
	// hand tells where a delivered recipient went (zero: delivered here).
	hand dsn.Handoff
}

// outcomes are the recipients of one attempt, sorted by result.
type outcomes struct {
	delivered []outcome
	failed    []outcome // failed for good
	pending   []outcome // to be tried again
	// paced counts the recipients whose destination could not take them
	// now (pacing, not a failure), turn the earliest time one may be
	// tried again.
	paced int
	turn  time.Time
}

// pacedResult is the result of a recipient whose destination is busy
// (deliver.Busy): not a failure, and not an attempt; it is tried again
// at RetryAt.
type pacedResult interface {
	RetryAt() time.Time
}

// attempt makes one delivery attempt for the pending recipients of it. It
// opens the queue file, delivers, queues the notices the results call
// for, then records the results: the message is removed once no
// recipient is left pending, otherwise the next attempt is scheduled.
func (s *Spool) attempt(ctx context.Context, it *item) {
	var content *io.SectionReader
	if mem := s.takeMem(it); mem != nil {
		// The first attempt: the content as committed, from memory.
		defer s.mem.release(len(mem))
		content = io.NewSectionReader(bytes.NewReader(mem), 0, int64(len(mem)))
	} else {
		f, ok := s.open(it)
		if !ok {
			return
		}
		defer f.Close()
		content = io.NewSectionReader(f, 0, it.env.Size)
	}
	idx, rcpts := s.pendingRcpts(it)
	if len(idx) == 0 {
		if len(it.env.Rcpts) == 0 {
			s.log.Warn("message without recipients removed", "id", it.env.ID, "from", it.env.From)
		}
		s.finish(it)
		return
	}

	errs, hand := s.deliverPending(ctx, it, rcpts, content)
	now := s.now()
	res := s.sortResults(it, idx, errs, hand)
	// A shutdown interrupted the attempt: not the destination's fault.
	counted := ctx.Err() == nil
	if counted {
		s.expire(it, res, now)
	}
	s.queueNotices(it, content, res, now)
	rec, done := s.finalRecords(res, now)
	switch {
	case len(res.pending) == 0 && res.paced == 0:
		s.markFinal(it, done)
		s.finish(it)
	case len(res.pending) == 0:
		// Only pacing held recipients back: their turn comes, and
		// nothing failed.
		s.later(it, done, len(done) > 0, "", false, res.turn, rec...)
	default:
		s.retry(it, content, res.pending, rec, done, counted, res.turn, now)
	}
}

// open opens the queue file of it and checks its content (once per
// process). It reports false (having dealt with the message) when the
// attempt cannot go on.
func (s *Spool) open(it *item) (*os.File, bool) {
	id := it.env.ID
	f, err := openFile(s.msgPath(id), unix.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		s.log.Warn("queue file vanished", "id", id)
		s.forget(it)
		return nil, false
	}
	if err != nil {
		s.later(it, nil, false, fmt.Sprintf("opening queue file: %v", err), true, time.Time{})
		return nil, false
	}
	if !s.verify(it, f) {
		f.Close()
		return nil, false
	}
	return f, true
}

// pendingRcpts returns the recipients of it not yet delivered or failed
// for good, with their indexes in the envelope.
func (s *Spool) pendingRcpts(it *item) (idx []int, rcpts []envelope.Recipient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range it.env.Rcpts {
		if !it.final[i] {
			idx = append(idx, i)
			rcpts = append(rcpts, r)
		}
	}
	return idx, rcpts
}

// deliverPending hands rcpts to the courier and returns its results, with
// the record of where the delivered ones went.
func (s *Spool) deliverPending(ctx context.Context, it *item, rcpts []envelope.Recipient, content io.ReaderAt) ([]error, *dsn.Handoffs) {
	dctx := ctx
	if it.recovered {
		dctx = envelope.WithRedelivery(ctx)
	}
	// Remote delivery records here which recipients went to a next hop,
	// and whether it took the DSN request (for "relayed" notices).
	hand := &dsn.Handoffs{}
	errs := s.deliver(dsn.WithHandoffs(dctx, hand), it.env, rcpts, content)
	return errs, hand
}

// sortResults sorts the recipients at idx by the courier's results errs
// and logs each one. A missing result is a temporary failure.
func (s *Spool) sortResults(it *item, idx []int, errs []error, hand *dsn.Handoffs) *outcomes {
	id := it.env.ID
	res := &outcomes{}
	for j, i := range idx {
		var e error
		if j < len(errs) {
			e = errs[j]
		} else {
			e = fmt.Errorf("courier returned %d results for %d recipients", len(errs), len(idx))
		}
		rcpt := it.env.Rcpts[i].Addr
		var p pacedResult
		switch {
		case errors.As(e, &p):
			if at := p.RetryAt(); res.paced == 0 || at.Before(res.turn) {
				res.turn = at
			}
			res.paced++
			s.log.Debug("delivery paced", "id", id, "rcpt", rcpt, "err", e)
		case e == nil:
			res.delivered = append(res.delivered, outcome{i: i, hand: hand.Lookup(rcpt)})
			s.log.Info("delivered", "id", id, "rcpt", rcpt)
		case permanent(e):
			res.failed = append(res.failed, outcome{i: i, err: e})
			s.log.Error("delivery failed", "id", id, "from", it.env.From, "rcpt", rcpt, "err", e)
		default:
			res.pending = append(res.pending, outcome{i: i, err: e})
			s.log.Info("delivery deferred", "id", id, "rcpt", rcpt, "err", e)
		}
	}
	return res
}

// expire fails the pending recipients for good once the queue lifetime of
// the message is over.
func (s *Spool) expire(it *item, res *outcomes, now time.Time) {
	if len(res.pending) == 0 || now.Sub(it.env.Received) < s.opt.Lifetime {
		return
	}
	for _, o := range res.pending {
		o.expired = true
		res.failed = append(res.failed, o)
		s.log.Error("delivery failed", "id", it.env.ID, "from", it.env.From, "rcpt", it.env.Rcpts[o.i].Addr,
			"err", fmt.Sprintf("message expired after %s in the queue: %v", s.opt.Lifetime, o.err))
	}
	res.pending = nil
}

// queueNotices queues the failure notice for the failed recipients and
// the success notice for the delivered ones. Notices are queued before
// the failures are recorded: a crash in between may send one twice, never
// not at all. When the failure notice cannot be queued, its recipients
// stay pending, to fail again at the next attempt.
func (s *Spool) queueNotices(it *item, content io.ReaderAt, res *outcomes, now time.Time) {
	id := it.env.ID
	if len(res.failed) > 0 {
		if err := s.notifyFailed(it, content, res.failed, now); err != nil {
			s.log.Error("queueing a bounce", "id", id, "err", err)
			for _, o := range res.failed {
				o.err = fmt.Errorf("could not queue the bounce: %w", err)
				res.pending = append(res.pending, o)
			}
			res.failed = nil
		}
	}
	if len(res.delivered) > 0 {
		if err := s.notifySuccess(it, content, res.delivered, now); err != nil {
			// The copies are delivered: a lost success notice is logged, not retried.
			s.log.Error("queueing a success notice", "id", id, "err", err)
		}
	}
}

// finalRecords returns the state records of the recipients delivered or
// failed for good, and their indexes in the envelope.
func (s *Spool) finalRecords(res *outcomes, now time.Time) (rec []byte, done []int) {
	for _, o := range res.delivered {
		rec = appendDelivered(rec, o.i, now)
		done = append(done, o.i)
	}
	for _, o := range res.failed {
		msg := o.err.Error()
		if o.expired {
			msg = fmt.Sprintf("message expired after %s in the queue: %s", s.opt.Lifetime, msg)
		}
		rec = appendFailed(rec, o.i, now, msg)
		done = append(done, o.i)
	}
	return rec, done
}

// retry ends an attempt that left recipients pending. It queues the delay
// notice if one is due, writes the records in rec (synced when a
// recipient is done or the notice went out), marks the recipients at done
// final and schedules the next attempt, no later than turn when that is
// set (recipients held back by pacing). When a shutdown cut the attempt
// short (counted is false), it does not count as an attempt and sends no
// delay notice.
func (s *Spool) retry(it *item, content io.ReaderAt, pending []outcome, rec []byte, done []int, counted bool, turn, now time.Time) {
	warned := false
	if counted && s.dueWarning(it, now) {
		if err := s.notifyDelay(it, content, pending, now); err != nil {
			s.log.Error("queueing a delay notice", "id", it.env.ID, "err", err)
		} else {
			rec = appendEvent(rec, "warned", now)
			warned = true
		}
	}
	lastErr := pending[len(pending)-1].err.Error()
	s.later(it, done, len(done) > 0 || warned, lastErr, counted, turn, rec...)
	if warned {
		s.mu.Lock()
		it.warned = true
		s.mu.Unlock()
	}
}

// verify checks the content checksum once per process. It reports false
// (having dealt with the message) when the attempt cannot go on.
func (s *Spool) verify(it *item, f *os.File) bool {
	if it.verified {
		return true
	}
	_, ft, err := readHeader(f, it.env.ID)
	if err == nil {
		err = verifyContent(f, ft)
	}
	var ce *corruptError
	if errors.As(err, &ce) {
		s.moveCorrupt(it.env.ID, err)
		s.forget(it)
		return false
	}
	if err != nil {
		s.later(it, nil, false, fmt.Sprintf("reading queue file: %v", err), true, time.Time{})
		return false
	}
	it.verified = true
	return true
}

// dueWarning reports whether it's sender is due the one delay notice.
func (s *Spool) dueWarning(it *item, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opt.WarnAfter > 0 && !it.warned && it.env.From != "" && now.Sub(it.env.Received) >= s.opt.WarnAfter
}
