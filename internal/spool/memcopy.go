package spool

import (
	"sync/atomic"
)

// The first delivery attempt of a small message reads the content from a
// copy kept in memory while it was written, instead of opening and
// reading the queue file again; retries, and messages recovered from
// disk, read the file. The copies are bounded one by one and in total, so
// that many large messages at once cost no more memory than before.
const (
	memCopyMax    = 64 << 10 // the largest content kept
	memCopyBudget = 16 << 20 // all copies held at once
)

// memCopies counts the octets of the copies held.
type memCopies struct{ used atomic.Int64 }

// reserve takes n octets of the budget, or reports false when they do not
// fit.
func (m *memCopies) reserve(n int) bool {
	for {
		u := m.used.Load()
		if u+int64(n) > memCopyBudget {
			return false
		}
		if m.used.CompareAndSwap(u, u+int64(n)) {
			return true
		}
	}
}

func (m *memCopies) release(n int) { m.used.Add(-int64(n)) }

// keep appends p to the copy of a Writer's content until it grows past
// memCopyMax, when the copy is dropped for good.
func (w *Writer) keep(p []byte) {
	switch {
	case w.memOff:
	case w.n > memCopyMax:
		w.memOff, w.mem = true, nil
	default:
		if w.mem == nil {
			w.mem = make([]byte, 0, min(memCopyMax, max(2*len(p), 8<<10)))
		}
		w.mem = append(w.mem, p...)
	}
}

// takeCopy returns the committed content's copy when it is whole and fits
// the budget (which it then holds), or nil.
func (w *Writer) takeCopy() []byte {
	mem := w.mem
	w.mem, w.memOff = nil, true
	if int64(len(mem)) != w.n || mem == nil || !w.s.mem.reserve(len(mem)) {
		return nil
	}
	return mem
}

// takeMem hands the first attempt the copy of it's content, if it has
// one; the caller releases it with s.mem.release when done.
func (s *Spool) takeMem(it *item) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	mem := it.mem
	it.mem = nil
	return mem
}

// dropMem releases it's copy, if any. s.mu is held.
func (s *Spool) dropMem(it *item) {
	if it.mem != nil {
		s.mem.release(len(it.mem))
		it.mem = nil
	}
}
