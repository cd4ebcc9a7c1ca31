package spool

import (
	"errors"
	"fmt"
	"io"
	"os"

	"postern/internal/smtp"
)

// Errors of the admin operations.
var (
	// ErrNotFound: no message with that id is in the queue.
	ErrNotFound = errors.New("no such message in the queue")
	// ErrBusy: the message is being delivered right now; try again.
	ErrBusy = errors.New("message is being delivered right now, try again in a moment")
	// ErrHeld: the message is held; release it first.
	ErrHeld = errors.New("message is held: release it first")
)

// replyBounced is what an admin bounce tells the sender.
var replyBounced = &smtp.Reply{Code: 550, Enhanced: "5.0.0", Text: "delivery cancelled by the mail administrator"}

// Flush makes the message id due now, whatever its retry time and in
// deferred mode too. A message being delivered is left alone. Without a
// running delivery loop (`postern queue flush` while no server runs) the
// request is recorded, and the next server tries the message at start.
func (s *Spool) Flush(id string) error {
	s.mu.Lock()
	it := s.items[id]
	switch {
	case it == nil:
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", id, ErrNotFound)
	case it.held:
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", id, ErrHeld)
	}
	running := s.running
	s.makeReady(it)
	s.mu.Unlock()
	if !running {
		return s.recordFlush(it)
	}
	s.Kick()
	return nil
}

// FlushAll makes every message that is not held due now (a queue run, as
// Flush for each) and returns how many were.
func (s *Spool) FlushAll() (int, error) {
	s.mu.Lock()
	running := s.running
	var flushed []*item
	for _, it := range s.items {
		if !it.held && !it.active {
			s.makeReady(it)
			flushed = append(flushed, it)
		}
	}
	s.mu.Unlock()
	if !running {
		for _, it := range flushed {
			if err := s.recordFlush(it); err != nil {
				return 0, err
			}
		}
	}
	s.Kick()
	return len(flushed), nil
}

// makeReady moves it to its lane's ready list. The caller holds s.mu.
func (s *Spool) makeReady(it *item) {
	if it.active {
		return
	}
	s.unwait(it)
	s.unready(it)
	it.next, it.turn = s.now(), false
	s.ready[s.laneOf(it)] = append(s.ready[s.laneOf(it)], it)
}

func (s *Spool) recordFlush(it *item) error {
	created, err := appendState(s.statePath(it.env.ID), appendEvent(nil, "flush", s.now()), true)
	if err == nil && created {
		err = s.group.syncDir()
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.mu.Lock()
	it.hasState = true
	s.mu.Unlock()
	return nil
}

// Remove deletes the message id from the queue without notice to anyone
// (as Postfix's postsuper -d).
func (s *Spool) Remove(id string) error {
	it, err := s.take(id)
	if err != nil {
		return err
	}
	if err := s.remove(it); err != nil {
		s.untake(it)
		return fmt.Errorf("spool: removing %s: %w", id, err)
	}
	s.forget(it)
	s.log.Info("message removed by the administrator", "id", id, "from", it.env.From)
	return nil
}

// Bounce gives up on the message id now: its pending recipients fail
// with 5.0.0, the sender gets the failure notice (as their NOTIFY asks)
// and the message leaves the queue.
func (s *Spool) Bounce(id string) error {
	it, err := s.take(id)
	if err != nil {
		return err
	}
	f, err := os.Open(s.msgPath(id))
	if err != nil {
		s.untake(it)
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	var failed []outcome
	s.mu.Lock()
	for i := range it.env.Rcpts {
		if !it.final[i] {
			failed = append(failed, outcome{i: i, err: replyBounced})
		}
	}
	s.mu.Unlock()
	now := s.now()
	if err := s.notifyFailed(it, io.NewSectionReader(f, 0, it.env.Size), failed, now); err != nil {
		s.untake(it)
		return fmt.Errorf("spool: bouncing %s: %w", id, err)
	}
	if err := s.remove(it); err != nil {
		s.untake(it)
		return fmt.Errorf("spool: removing %s after its bounce: %w", id, err)
	}
	s.forget(it)
	for _, o := range failed {
		s.log.Error("delivery failed", "id", id, "from", it.env.From, "rcpt", it.env.Rcpts[o.i].Addr, "err", "bounced by the administrator")
	}
	return nil
}

// take claims the message id for an admin operation: no delivery starts
// on it until untake (or it is forgotten).
func (s *Spool) take(id string) (*item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.items[id]
	switch {
	case it == nil:
		return nil, fmt.Errorf("%s: %w", id, ErrNotFound)
	case it.active:
		return nil, fmt.Errorf("%s: %w", id, ErrBusy)
	}
	s.unwait(it)
	s.unready(it)
	it.active = true
	return it, nil
}

// untake gives back a message taken for an operation that failed.
func (s *Spool) untake(it *item) {
	s.mu.Lock()
	it.active = false
	if s.items[it.env.ID] == it && !it.held && it.heapIdx < 0 {
		s.wait(it)
	}
	s.mu.Unlock()
	s.Kick()
}
