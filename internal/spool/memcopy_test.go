package spool

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

// overwrite replaces the start of a queued message's content on disk
// with the same number of other octets.
func overwrite(t *testing.T, s *Spool, id, with string) {
	f, err := os.OpenFile(s.msgPath(id), os.O_WRONLY, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(with), 0); err != nil {
		t.Error(err)
	}
}

// TestFirstAttemptFromMemory: the first attempt of a small message sends
// the content as committed without reading the queue file (changed on
// disk behind its back, it still sends the original); the retry after
// that failed first attempt sends the file's content; a message over
// memCopyMax is read from the file at once; and every copy's budget is
// given back.
func TestFirstAttemptFromMemory(t *testing.T) {
	var mu sync.Mutex
	sent := map[string][]string{} // by id: the content of each attempt
	var small string
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		b, _ := io.ReadAll(io.NewSectionReader(body, 0, env.Size))
		mu.Lock()
		sent[env.ID] = append(sent[env.ID], string(b[:5]))
		n := len(sent[env.ID])
		mu.Unlock()
		errs := make([]error, len(rcpts))
		if n == 1 && env.ID == small {
			errs[0] = &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "try again"}
		}
		return errs
	})
	s, err := New(filepath.Join(t.TempDir(), "spool"), c, testLog(t), Options{RetryInitial: 50 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	small = submit(t, s, "small message\r\n", "a@example.test")
	large := submit(t, s, "large"+strings.Repeat("x", memCopyMax)+"\r\n", "a@example.test")
	if got, want := s.mem.used.Load(), int64(len("small message\r\n")); got != want {
		t.Errorf("budget used %d after the commits, want %d (the small one only)", got, want)
	}
	// Changed on disk before the first attempt: the large one sends the
	// change at once, the small one only when retried.
	overwrite(t, s, small, "later")
	overwrite(t, s, large, "LARGE")
	runSpool(t, s)
	waitFor(t, "both delivered", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.items) == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(sent[small], ","); got != "small,later" {
		t.Errorf("small message's attempts sent %q, want the committed copy then the file's", got)
	}
	if got := strings.Join(sent[large], ","); got != "LARGE" {
		t.Errorf("large message's attempt sent %q, want the file's content", got)
	}
	if n := s.mem.used.Load(); n != 0 {
		t.Errorf("budget still used: %d", n)
	}
}

// TestMemCopyBudget: copies beyond the total budget are not kept, a held
// message keeps none, and what is released can be reserved again.
func TestMemCopyBudget(t *testing.T) {
	var m memCopies
	if !m.reserve(memCopyBudget - 10) {
		t.Fatal("reserve within the budget refused")
	}
	if m.reserve(11) {
		t.Error("reserve over the budget allowed")
	}
	m.release(memCopyBudget - 10)
	if !m.reserve(11) || m.used.Load() != 11 {
		t.Errorf("after release: used %d", m.used.Load())
	}

	s := newDeliveringSpool(t)
	defer s.Close()
	s.mem.reserve(memCopyBudget - 4)
	submit(t, s, "does not fit\r\n", "a@example.test")
	if n := s.mem.used.Load(); n != memCopyBudget-4 {
		t.Errorf("a copy over the budget was kept: used %d", n)
	}
	s.mem.release(memCopyBudget - 4)
	w, err := s.Create(&envelope.Envelope{From: "a@x", Hold: true, Rcpts: []envelope.Recipient{{Addr: "b@y"}}})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "held\r\n")
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.mem.used.Load(); n != 0 {
		t.Errorf("a held message keeps a copy: used %d", n)
	}
}

// newDeliveringSpool is a spool in a temporary directory whose courier
// delivers every message at once.
func newDeliveringSpool(t *testing.T) *Spool {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "spool"), courierFunc(func(context.Context, *envelope.Envelope, []envelope.Recipient, io.ReaderAt) []error {
		return []error{nil}
	}), testLog(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
