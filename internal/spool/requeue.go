package spool

import "fmt"

// Requeue makes the message id start over, as Postfix's postsuper -r
// does: its failed attempts are forgotten (it leaves the slow lane, and
// its retries begin again at RetryInitial) and it is tried now. Every
// attempt routes its recipients again with the maps in force
// (mailertable, aliases, .forward, the smarthost), so a requeue after a
// maps change sends the message the new way at once. The request is
// recorded durably; without a running delivery loop the next server
// takes the message at start. Held messages stay held (ErrHeld); a
// message being delivered right now is ErrBusy.
func (s *Spool) Requeue(id string) error {
	s.mu.Lock()
	it := s.items[id]
	switch {
	case it == nil:
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", id, ErrNotFound)
	case it.held:
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", id, ErrHeld)
	case it.active:
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", id, ErrBusy)
	}
	s.mu.Unlock()
	if err := s.requeue(it); err != nil {
		return err
	}
	s.Kick()
	return nil
}

// RequeueAll requeues every message that is neither held nor being
// delivered, and returns how many.
func (s *Spool) RequeueAll() (int, error) {
	s.mu.Lock()
	var all []*item
	for _, it := range s.items {
		if !it.held && !it.active {
			all = append(all, it)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, it := range all {
		if err := s.requeue(it); err != nil {
			return n, err
		}
		n++
	}
	s.Kick()
	return n, nil
}

// requeue records the request, then resets it in memory.
func (s *Spool) requeue(it *item) error {
	id := it.env.ID
	created, err := appendState(s.statePath(id), appendEvent(nil, "requeue", s.now()), true)
	if err == nil && created {
		err = s.group.syncDir()
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it.hasState = true
	if s.items[id] != it || it.held || it.active {
		return nil // changed meanwhile; the record applies at the next start
	}
	it.attempts = 0
	s.makeReady(it)
	s.log.Info("message requeued", "id", id)
	return nil
}
