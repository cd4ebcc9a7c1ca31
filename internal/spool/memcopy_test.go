package spool

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"postern/internal/envelope"
)

// TestMemCopy checks that a message delivered from its copy in memory and
// one read from its file arrive the same, and that no copy outlives the
// attempt.
func TestMemCopy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		piece  int
		inMem  bool
		remove bool // the queue file is gone before the attempt
	}{
		{"small", 5 << 10, 700, true, false},
		{"at the limit", memCopyMax, 4096, true, false},
		{"over the limit", memCopyMax + 1, 4096, false, false},
		{"large", 300 << 10, 32 << 10, false, false},
		{"small, read from memory", 5 << 10, 5 << 10, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []byte
			c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
				b, _ := io.ReadAll(io.NewSectionReader(body, 0, env.Size))
				mu.Lock()
				got = b
				mu.Unlock()
				return make([]error, len(rcpts))
			})
			s, err := New(filepath.Join(t.TempDir(), "spool"), c, testLog(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			content := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\r\n"), tc.size/38+1)[:tc.size]
			env := &envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@example.test"}}}
			w, err := s.Create(env)
			if err != nil {
				t.Fatal(err)
			}
			for p := content; len(p) > 0; p = p[min(tc.piece, len(p)):] {
				if _, err := w.Write(p[:min(tc.piece, len(p))]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			if held := s.memHeld.Load(); (held == int64(tc.size)) != tc.inMem || (held != 0) != tc.inMem {
				t.Fatalf("copies hold %d bytes, in memory %v", held, tc.inMem)
			}
			if tc.remove {
				if err := os.Remove(s.msgPath(env.ID)); err != nil {
					t.Fatal(err)
				}
			}
			runSpool(t, s)
			waitFor(t, "delivery", func() bool { return len(s.Items()) == 0 })
			mu.Lock()
			defer mu.Unlock()
			if !bytes.Equal(got, content) {
				t.Fatalf("delivered %d bytes, want the %d sent", len(got), len(content))
			}
			if held := s.memHeld.Load(); held != 0 {
				t.Fatalf("copies hold %d bytes after delivery", held)
			}
		})
	}
}

// TestMemCopyReleased checks that copies are let go without a delivery:
// a message removed before its attempt, and one committed held.
func TestMemCopyReleased(t *testing.T) {
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		return make([]error, len(rcpts))
	})
	s, err := New(filepath.Join(t.TempDir(), "spool"), c, testLog(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := submit(t, s, "Subject: x\r\n\r\nbody\r\n", "a@example.test")
	if s.memHeld.Load() == 0 {
		t.Fatal("no copy kept")
	}
	if err := s.Remove(id); err != nil {
		t.Fatal(err)
	}
	if held := s.memHeld.Load(); held != 0 {
		t.Fatalf("copies hold %d bytes after Remove", held)
	}
	env := &envelope.Envelope{From: "sender@example.org", Hold: true, Rcpts: []envelope.Recipient{{Addr: "a@example.test"}}}
	w, err := s.Create(env)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: held\r\n\r\nbody\r\n")
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if held := s.memHeld.Load(); held != 0 {
		t.Fatalf("copies hold %d bytes for a held message", held)
	}
}

// dropCopy lets go of it's copy in memory, so that its next attempt reads
// the queue file as a retry does.
func dropCopy(s *Spool, it *item) {
	s.memHeld.Add(-int64(len(it.mem)))
	it.mem = nil
}
