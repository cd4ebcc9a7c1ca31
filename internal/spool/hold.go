package spool

import (
	"container/heap"
	"fmt"
)

// Hold keeps the message id in the queue without delivering it until
// Release; a delivery already under way completes. Release lets a held
// message (held by Hold or by its envelope's Hold flag) be delivered now.
// Both are recorded durably in the message's state.
func (s *Spool) Hold(id string) error { return s.setHold(id, true) }

// Release: see Hold.
func (s *Spool) Release(id string) error { return s.setHold(id, false) }

func (s *Spool) setHold(id string, hold bool) error {
	s.mu.Lock()
	it := s.items[id]
	s.mu.Unlock()
	if it == nil {
		return fmt.Errorf("spool: no message %s in the queue", id)
	}
	created, err := appendState(s.statePath(id), appendHold(nil, hold, s.now()), true)
	if err == nil && created {
		err = s.group.syncDir()
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.mu.Lock()
	it.hasState = true
	wasHeld := it.held
	it.held = hold
	switch {
	case hold && it.heapIdx >= 0:
		s.unwait(it)
	case hold:
		s.unready(it)
	case wasHeld && !hold && !it.active && it.heapIdx < 0:
		it.next, it.turn = s.now(), false
		heap.Push(&s.waiting, it)
	}
	s.mu.Unlock()
	s.Kick()
	return nil
}
