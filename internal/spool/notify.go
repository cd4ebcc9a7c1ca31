package spool

import (
	"context"
	"fmt"
	"io"
	"time"

	"postern/internal/dsn"
	"postern/internal/envelope"
)

// Notices the spool generates are queued like any message, from the null
// sender, with their Listener field naming what they are.
const (
	// ListenerDSN marks a notice to a message's sender.
	ListenerDSN = "dsn"
	// ListenerPostmasterDSN marks a notice to the postmaster about a
	// message from the null sender (a double bounce). If it cannot be
	// delivered either, it is dropped and logged: nothing is left to tell.
	ListenerPostmasterDSN = "dsn-postmaster"
)

// notifyFailed queues the failure notice for recipients that failed for
// good: to the sender, or to the postmaster when the sender is the null
// sender, never to the null sender.
func (s *Spool) notifyFailed(it *item, content io.ReaderAt, failed []outcome, now time.Time) error {
	env := it.env
	r := dsn.Report{Kind: dsn.Failure, Env: env, To: env.From, Content: content}
	if env.From == "" {
		// RFC 5321 4.5.5 and RFC 3461 6.2: no notice to the null sender.
		if env.Listener == ListenerPostmasterDSN {
			s.log.Error("notice to the postmaster undeliverable, dropped", "id", env.ID)
			return nil
		}
		r.To, r.Postmaster = s.opt.Postmaster, true
	}
	for _, o := range failed {
		rc := env.Rcpts[o.i]
		// RFC 3461 4.1: NOTIFY=NEVER (or a list without FAILURE) means
		// no notice; the postmaster copy of a double bounce is the
		// admin's, sent whatever the bounce asked for.
		if !r.Postmaster && !dsn.Wants(rc.Notify, dsn.Failure) {
			continue
		}
		st, diag, remote := dsn.FromError(o.err, dsn.Failure)
		if o.expired {
			// RFC 3463 3.5: X.4.7 delivery time expired.
			st = "4.4.7"
			_, diag, remote = dsn.FromError(o.err, dsn.Delay)
		}
		r.Rcpts = append(r.Rcpts, dsn.Recipient{Recipient: rc, Status: st, Diagnostic: diag, RemoteMTA: remote, LastAttempt: now})
	}
	return s.inject(r, now)
}

// notifyDelay queues the one delay notice for the recipients still
// pending that asked for it (or gave no NOTIFY).
func (s *Spool) notifyDelay(it *item, content io.ReaderAt, pending []outcome, now time.Time) error {
	env := it.env
	until := env.Received.Add(s.opt.Lifetime)
	r := dsn.Report{Kind: dsn.Delay, Env: env, To: env.From, Content: content}
	for _, o := range pending {
		rc := env.Rcpts[o.i]
		if !dsn.Wants(rc.Notify, dsn.Delay) {
			continue
		}
		st, diag, remote := dsn.FromError(o.err, dsn.Delay)
		r.Rcpts = append(r.Rcpts, dsn.Recipient{Recipient: rc, Status: st, Diagnostic: diag, RemoteMTA: remote, LastAttempt: now, WillRetryUntil: until})
	}
	return s.inject(r, now)
}

// notifySuccess queues a success notice for the delivered recipients
// that asked for one (NOTIFY=SUCCESS): "delivered" for those put into a
// local mailbox, "expanded" for aliases that sent the message on to
// several addresses, "relayed" for those passed to a server that does not
// offer DSN. Mail relayed to a server that offers DSN carries NOTIFY on,
// and that server reports.
func (s *Spool) notifySuccess(it *item, content io.ReaderAt, delivered []outcome, now time.Time) error {
	env := it.env
	if env.From == "" {
		// RFC 3461 6.2 and RFC 5321 4.5.5: no notice to the null sender.
		return nil
	}
	r := dsn.Report{Kind: dsn.Success, Env: env, To: env.From, Content: content}
	for _, o := range delivered {
		rc := env.Rcpts[o.i]
		if !dsn.Wants(rc.Notify, dsn.Success) {
			continue
		}
		switch {
		case o.hand.Expanded():
			// RFC 3461 5.2.7.3: an alias that sent the message on to
			// several addresses gets one "expanded" line; its targets
			// carry NOTIFY without SUCCESS and report nothing more.
			r.Rcpts = append(r.Rcpts, dsn.ExpandedRecipient(dsn.Recipient{Recipient: rc, LastAttempt: now}, o.hand.Targets))
		case o.hand.Relayed():
			// RFC 3461 5.2.2: the next hop cannot take the request on,
			// so this host reports, with Action: relayed.
			r.Rcpts = append(r.Rcpts, dsn.RelayedRecipient(dsn.Recipient{Recipient: rc, LastAttempt: now}, o.hand))
		case o.hand.Passed():
			// RFC 3461 5.2.1: NOTIFY and ORCPT went on; the next hop
			// reports (or, RFC 3461 5.2.7.2, the copy a one-to-one alias
			// forwarded with them).
		case s.opt.LocalRecipient != nil && s.opt.LocalRecipient(rc.Addr):
			r.Rcpts = append(r.Rcpts, dsn.Recipient{Recipient: rc, Status: "2.0.0", Diagnostic: "smtp; 250 2.0.0 delivered to the mailbox", LastAttempt: now})
		}
	}
	return s.inject(r, now)
}

// inject builds the notice r and queues it; a report without recipients
// is not sent.
func (s *Spool) inject(r dsn.Report, now time.Time) error {
	if len(r.Rcpts) == 0 {
		return nil
	}
	b, err := dsn.Build(r, dsn.Options{Hostname: s.opt.Hostname, Now: now, MaxReturn: s.opt.MaxReturn, Until: r.Env.Received.Add(s.opt.Lifetime)})
	if err != nil {
		return err
	}
	env := &envelope.Envelope{
		From:     "",
		Rcpts:    []envelope.Recipient{{Addr: r.To}},
		Received: now,
		Helo:     s.opt.Hostname,
		Listener: ListenerDSN,
	}
	if r.Postmaster {
		env.Listener = ListenerPostmasterDSN
	}
	if b.EightBit {
		env.Body = "8BITMIME"
	}
	w, err := s.Create(env)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(b.Content); err != nil {
		return err
	}
	if err := w.Commit(context.Background()); err != nil {
		return fmt.Errorf("queueing notice: %w", err)
	}
	kind := []string{"failure", "delay", "success"}[r.Kind]
	if r.Postmaster {
		kind = "postmaster copy"
	}
	s.log.Info("notice queued", "id", r.Env.ID, "notice", env.ID, "kind", kind, "to", r.To, "rcpts", len(r.Rcpts))
	return nil
}
