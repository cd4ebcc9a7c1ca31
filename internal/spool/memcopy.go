package spool

import (
	"bytes"
	"io"
	"os"
)

// A freshly committed small message keeps a copy of its content in
// memory until its first delivery attempt, which reads the copy instead
// of opening the queue file: the file stays the durable copy (a crash or
// a retry reads it), the copy only saves the open, reads and close of
// the attempt that usually follows the commit within milliseconds.
const (
	// memCopyMax is the largest content kept in memory.
	memCopyMax = 64 << 10
	// memCopyTotal bounds the copies held at once; a message committed
	// while they are at the bound is read from its file.
	memCopyTotal = 32 << 20
)

// keep collects the content written while it fits memCopyMax.
func (w *Writer) keep(p []byte) {
	if w.memOff {
		return
	}
	if len(w.mem)+len(p) > memCopyMax {
		w.mem, w.memOff = nil, true
		return
	}
	if w.mem == nil {
		w.mem = make([]byte, 0, min(memCopyMax, max(8<<10, 2*len(p))))
	}
	w.mem = append(w.mem, p...)
}

// takeCopy returns the content kept by w for the queue, or nil when it
// is larger than memCopyMax or the copies held are at memCopyTotal.
func (w *Writer) takeCopy() []byte {
	mem := w.mem
	w.mem = nil
	if w.memOff || int64(len(mem)) != w.n {
		return nil
	}
	if w.s.memHeld.Add(int64(len(mem))) > memCopyTotal {
		w.s.memHeld.Add(-int64(len(mem)))
		return nil
	}
	return mem
}

// content opens what an attempt delivers: the copy in memory when it
// still holds one, else the queue file (checked once per process). It
// reports false (having dealt with the message) when the attempt cannot
// go on; done releases what content took.
func (s *Spool) content(it *item) (r io.ReaderAt, done func(), ok bool) {
	if mem := it.mem; mem != nil {
		it.mem = nil
		return bytes.NewReader(mem), func() { s.memHeld.Add(-int64(len(mem))) }, true
	}
	f, ok := s.open(it)
	if !ok {
		return nil, nil, false
	}
	return io.NewSectionReader(f, 0, it.env.Size), func() { closeFile(f) }, true
}

func closeFile(f *os.File) { f.Close() }
