package spool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"postern/internal/envelope"
)

// Writer receives one message's content. Exactly one of Commit and Abort
// must be called; Abort after Commit is a no-op, so `defer w.Abort()` is
// the safe pattern.
type Writer struct {
	s    *Spool
	id   string // env.ID at Create; the file names follow it
	env  *envelope.Envelope
	f    *os.File
	bw   *bufio.Writer
	crc  hash.Hash32
	n    int64
	err  error // first write error: Commit fails with it
	done bool  // committed or aborted
	// mem is a copy of the content while it is small (memcopy.go);
	// memOff once it is not kept.
	mem    []byte
	memOff bool
}

const writeBufSize = 32 << 10

// Create starts a message for env. env.ID is assigned (envelope.NewID) if
// empty; a given id must be letters, digits, '-' and '_' and not already
// in use. The envelope may still change until Commit, which stores it as
// it is then (with Size set to the bytes written).
func (s *Spool) Create(env *envelope.Envelope) (*Writer, error) {
	if env == nil {
		return nil, errors.New("spool: nil envelope")
	}
	if env.ID == "" {
		env.ID = envelope.NewID(time.Now())
	} else if !validID(env.ID) {
		return nil, fmt.Errorf("spool: invalid queue id %q", env.ID)
	}
	f, err := openFile(s.tmpPath(env.ID), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	bw, _ := s.bufPool.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(f, writeBufSize)
	} else {
		bw.Reset(f)
	}
	return &Writer{s: s, id: env.ID, env: env, f: f, bw: bw, crc: crc32.New(castagnoli)}, nil
}

// Write appends message content (headers and body with CRLF line endings,
// not dot-stuffed).
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("spool: write after commit or abort")
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	w.crc.Write(p[:n])
	w.n += int64(n)
	w.keep(p[:n])
	if err != nil {
		w.err = fmt.Errorf("spool: %w", err)
		return n, w.err
	}
	return n, nil
}

// Commit stores the envelope after the content and returns nil only once
// the message file and its name in the queue directory are durable (data
// fsynced, renamed, directory fsynced; shared with concurrent commits).
// The message is then queued for delivery. On error nothing is queued and
// the temporary file is gone. A canceled ctx stops a commit that has not
// yet started syncing; once syncing it completes regardless.
func (w *Writer) Commit(ctx context.Context) error {
	if w.done {
		return errors.New("spool: commit after commit or abort")
	}
	if err := w.prepare(ctx); err != nil {
		w.Abort()
		return err
	}
	w.done = true
	w.s.releaseBuf(w.bw)
	w.bw = nil
	tmp, final := w.s.tmpPath(w.id), w.s.msgPath(w.id)
	err := w.s.group.commit(w.f, tmp, final)
	if cerr := w.f.Close(); err == nil && cerr != nil {
		// The data is already durable; a close error changes nothing.
		w.s.log.Warn("closing queue file", "id", w.id, "err", cerr)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: commit %s: %w", w.id, err)
	}
	w.s.enqueue(w.stored(), w.takeCopy())
	return nil
}

// prepare flushes the content and writes envelope and footer.
func (w *Writer) prepare(ctx context.Context) error {
	if w.err != nil {
		return w.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.env.ID != w.id {
		return errors.New("spool: envelope id changed after Create")
	}
	if w.env.Received.IsZero() {
		w.env.Received = w.s.now()
	}
	w.env.Size = w.n
	eb := w.env.Encode()
	if len(eb) > maxEnvLen {
		return errors.New("spool: envelope too large")
	}
	crcContent := w.crc.Sum32()
	eb = appendFooter(eb, w.n, len(eb), crcContent, crc32.Checksum(eb, castagnoli))
	if _, err := w.bw.Write(eb); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// stored returns the spool's own copy of the committed envelope.
func (w *Writer) stored() *envelope.Envelope {
	e := *w.env
	e.Rcpts = slices.Clone(w.env.Rcpts)
	return &e
}

// Abort discards the message: the temporary file is removed and nothing
// is left in the queue. It does nothing after Commit.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.mem = nil
	if w.bw != nil {
		w.s.releaseBuf(w.bw)
		w.bw = nil
	}
	w.f.Close()
	os.Remove(w.s.tmpPath(w.id))
}

func (s *Spool) releaseBuf(bw *bufio.Writer) {
	bw.Reset(nil)
	s.bufPool.Put(bw)
}
