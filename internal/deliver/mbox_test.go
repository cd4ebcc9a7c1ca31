package deliver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var arrived = time.Date(2026, 11, 21, 1, 2, 3, 0, time.UTC)

func TestMbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail", "alice")
	if err := Mbox(path, "bob@example.org", arrived, strings.NewReader("Subject: a\r\n\r\nFrom here\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := Mbox(path, "", arrived, strings.NewReader("Subject: b\r\n\r\n>From there")); err != nil {
		t.Fatal(err)
	}
	want := "From bob@example.org Sat Nov 21 01:02:03 2026\nSubject: a\n\n>From here\n\n" +
		"From MAILER-DAEMON Sat Nov 21 01:02:03 2026\nSubject: b\n\n>>From there\n\n"
	got, _ := os.ReadFile(path)
	if string(got) != want {
		t.Errorf("mbox =\n%q\nwant\n%q", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestMboxSeparatesFromBrokenEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "box")
	os.WriteFile(path, []byte("From x Sat Nov 21 01:02:03 2026\nno newline"), 0o600)
	if err := Mbox(path, "a b@c", arrived, strings.NewReader("hi\r\n")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "From x Sat Nov 21 01:02:03 2026\nno newline\n\nFrom a_b@c Sat Nov 21 01:02:03 2026\nhi\n\n"
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

func TestMboxTruncatesOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "box")
	if err := Mbox(path, "a@b", arrived, strings.NewReader("first\r\n")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	err := Mbox(path, "a@b", arrived, io.MultiReader(strings.NewReader("second\r\n"), &failingReader{n: 100 << 10}))
	if err == nil {
		t.Fatal("no error from a failing reader")
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) {
		t.Errorf("mbox not truncated back: %d bytes, was %d", len(after), len(before))
	}
}

func TestMboxRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o600)
	sym := filepath.Join(dir, "sym")
	os.Symlink(target, sym)
	if err := Mbox(sym, "a@b", arrived, strings.NewReader("x\r\n")); err == nil {
		t.Error("delivered through a symbolic link")
	}
	hard := filepath.Join(dir, "hard")
	os.Link(target, hard)
	if err := Mbox(hard, "a@b", arrived, strings.NewReader("x\r\n")); err == nil {
		t.Error("delivered to a file with two links")
	}
	if b, _ := os.ReadFile(target); len(b) != 0 {
		t.Errorf("target written: %q", b)
	}
}

// The fcntl lock is held while appending: a lock held elsewhere makes
// Mbox wait.
func TestMboxWaitsForLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "box")
	os.WriteFile(path, nil, 0o600)
	holder := lockInChild(t, path)
	done := make(chan error, 1)
	go func() { done <- Mbox(path, "a@b", arrived, strings.NewReader("x\r\n")) }()
	select {
	case err := <-done:
		t.Fatalf("Mbox returned (%v) while the file was locked", err)
	case <-time.After(300 * time.Millisecond):
	}
	holder()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Deliveries of one process to one mbox run concurrently: the lock must
// keep them apart too.
func TestMboxConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "box")
	const n = 40
	body := strings.Repeat("a line of the message body\r\n", 2000)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			errs <- Mbox(path, fmt.Sprintf("sender%d@example.org", i), arrived, strings.NewReader(body))
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(path)
	msgs := strings.Split(strings.TrimSuffix(string(got), "\n\n"), "\n\nFrom ")
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	want := strings.ReplaceAll(body, "\r\n", "\n")
	want = want[:len(want)-1]
	for _, m := range msgs {
		_, rest, _ := strings.Cut(m, "\n")
		if rest != want {
			t.Fatalf("a message was mixed with another (%d bytes, want %d)", len(rest), len(want))
		}
	}
}
