package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

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

// attempt makes one delivery attempt for the pending recipients of it.
func (s *Spool) attempt(ctx context.Context, it *item) {
	id := it.env.ID
	f, err := os.Open(s.msgPath(id))
	if errors.Is(err, os.ErrNotExist) {
		s.log.Warn("queue file vanished", "id", id)
		s.forget(it)
		return
	}
	if err != nil {
		s.later(it, nil, false, fmt.Sprintf("opening queue file: %v", err), true)
		return
	}
	defer f.Close()
	if !s.verify(it, f) {
		return
	}

	var idx []int
	var rcpts []envelope.Recipient
	s.mu.Lock()
	for i, r := range it.env.Rcpts {
		if !it.final[i] {
			idx = append(idx, i)
			rcpts = append(rcpts, r)
		}
	}
	s.mu.Unlock()
	if len(idx) == 0 {
		if len(it.env.Rcpts) == 0 {
			s.log.Warn("message without recipients removed", "id", id, "from", it.env.From)
		}
		s.finish(it)
		return
	}

	dctx := ctx
	if it.recovered {
		dctx = envelope.WithRedelivery(ctx)
	}
	content := io.NewSectionReader(f, 0, it.env.Size)
	// Remote delivery records here which recipients went to a next hop,
	// and whether it took the DSN request (for "relayed" notices).
	hand := &dsn.Handoffs{}
	errs := s.deliver(dsn.WithHandoffs(dctx, hand), it.env, rcpts, content)
	now := s.now()
	var delivered, failed, pending []outcome
	for j, i := range idx {
		var e error
		if j < len(errs) {
			e = errs[j]
		} else {
			e = fmt.Errorf("courier returned %d results for %d recipients", len(errs), len(idx))
		}
		rcpt := it.env.Rcpts[i].Addr
		switch {
		case e == nil:
			delivered = append(delivered, outcome{i: i, hand: hand.Lookup(rcpt)})
			s.log.Info("delivered", "id", id, "rcpt", rcpt)
		case permanent(e):
			failed = append(failed, outcome{i: i, err: e})
			s.log.Error("delivery failed", "id", id, "from", it.env.From, "rcpt", rcpt, "err", e)
		default:
			pending = append(pending, outcome{i: i, err: e})
			s.log.Info("delivery deferred", "id", id, "rcpt", rcpt, "err", e)
		}
	}
	// A shutdown interrupted the attempt: not the destination's fault.
	counted := ctx.Err() == nil
	if len(pending) > 0 && counted && now.Sub(it.env.Received) >= s.opt.Lifetime {
		// Give up: the queue lifetime is over.
		for _, o := range pending {
			o.expired = true
			failed = append(failed, o)
			s.log.Error("delivery failed", "id", id, "from", it.env.From, "rcpt", it.env.Rcpts[o.i].Addr,
				"err", fmt.Sprintf("message expired after %s in the queue: %v", s.opt.Lifetime, o.err))
		}
		pending = nil
	}

	// Notices are queued before the failures are recorded: a crash in
	// between may send one twice, never not at all.
	if len(failed) > 0 {
		if err := s.notifyFailed(it, content, failed, now); err != nil {
			s.log.Error("queueing a bounce", "id", id, "err", err)
			for _, o := range failed {
				o.err = fmt.Errorf("could not queue the bounce: %w", err)
				pending = append(pending, o)
			}
			failed = nil
		}
	}
	if len(delivered) > 0 {
		if err := s.notifySuccess(it, content, delivered, now); err != nil {
			// The copies are delivered: a lost success notice is logged, not retried.
			s.log.Error("queueing a success notice", "id", id, "err", err)
		}
	}
	var rec []byte
	var done []int
	for _, o := range delivered {
		rec = appendDelivered(rec, o.i, now)
		done = append(done, o.i)
	}
	for _, o := range failed {
		msg := o.err.Error()
		if o.expired {
			msg = fmt.Sprintf("message expired after %s in the queue: %s", s.opt.Lifetime, msg)
		}
		rec = appendFailed(rec, o.i, now, msg)
		done = append(done, o.i)
	}
	if len(pending) == 0 {
		s.markFinal(it, done)
		s.finish(it)
		return
	}
	warned := false
	if counted && s.dueWarning(it, now) {
		if err := s.notifyDelay(it, content, pending, now); err != nil {
			s.log.Error("queueing a delay notice", "id", id, "err", err)
		} else {
			rec = appendEvent(rec, "warned", now)
			warned = true
		}
	}
	lastErr := pending[len(pending)-1].err.Error()
	s.later(it, done, len(done) > 0 || warned, lastErr, counted, rec...)
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
		s.later(it, nil, false, fmt.Sprintf("reading queue file: %v", err), true)
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
