package spool

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/envelope"
)

func TestReadDetail(t *testing.T) {
	dir := t.TempDir()
	idle := courierFunc(func(context.Context, *envelope.Envelope, []envelope.Recipient, io.ReaderAt) []error { return nil })
	s, err := New(dir, idle, testLog(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := &envelope.Envelope{From: "a@b", Rcpts: []envelope.Recipient{{Addr: "c@d"}, {Addr: "e@f"}, {Addr: "g@h"}}}
	w, _ := s.Create(env)
	io.WriteString(w, "Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\n\r\nmore\r\n")
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 0)
	var rec []byte
	rec = appendDelivered(rec, 0, t0)
	rec = appendFailed(rec, 1, t0, "550 no")
	rec = appendAttempt(rec, t0, t0.Add(time.Minute), "451 later")
	rec = appendAttempt(rec, t0.Add(time.Minute), t0.Add(time.Hour), "451 \"again\"")
	rec = appendHold(rec, true, t0)
	if _, err := appendState(filepath.Join(dir, "queue", env.ID+stateSuffix), rec, false); err != nil {
		t.Fatal(err)
	}
	d, err := ReadDetail(dir, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Header) != "Subject: hi\r\nFrom: a@b\r\n" || !d.Held || d.Env.From != "a@b" {
		t.Errorf("detail %q held %v", d.Header, d.Held)
	}
	want := []RcptDetail{{Addr: "c@d", Delivered: true}, {Addr: "e@f", Failed: "550 no"}, {Addr: "g@h"}}
	for i := range want {
		if d.Rcpts[i] != want[i] {
			t.Errorf("rcpt %d: %+v, want %+v", i, d.Rcpts[i], want[i])
		}
	}
	if len(d.Attempts) != 2 || d.Attempts[1].Error != "451 \"again\"" || !d.Attempts[1].Next.Equal(t0.Add(time.Hour)) {
		t.Errorf("attempts %+v", d.Attempts)
	}
	for _, id := range []string{"../x", "nosuchid"} {
		if _, err := ReadDetail(dir, id); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%q: %v", id, err)
		}
	}
}

func TestReadMessageHeader(t *testing.T) {
	for in, want := range map[string]string{
		"A: 1\r\n\r\nbody": "A: 1\r\n",
		"A: 1\n\nbody":     "A: 1\n",
		"A: 1\r\nB: 2\r\n": "A: 1\r\nB: 2\r\n",
		"":                 "",
	} {
		got, err := readMessageHeader(strings.NewReader(in))
		if err != nil || string(got) != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}

// A header longer than the first read, and one longer than the bound.
func TestReadMessageHeaderLong(t *testing.T) {
	long := "X-Long: " + strings.Repeat("a", 10000) + "\r\n"
	if got, err := readMessageHeader(strings.NewReader(long + "\r\nbody")); err != nil || string(got) != long {
		t.Errorf("long header: %d bytes, %v", len(got), err)
	}
	huge := strings.Repeat("X: y\r\n", MaxDetailHeader)
	if got, err := readMessageHeader(strings.NewReader(huge)); err != nil || len(got) != MaxDetailHeader {
		t.Errorf("huge header: %d bytes, %v", len(got), err)
	}
}
