package control

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
	"postern/internal/spool"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		line string
		want Request
		err  string
	}{
		{"flush\n", Request{Verb: "flush"}, ""},
		{"flush M0RZ2J54HJ_05-24\r\n", Request{Verb: "flush", ID: "M0RZ2J54HJ_05-24"}, ""},
		{"hold ABC\n", Request{Verb: "hold", ID: "ABC"}, ""},
		{"release ABC", Request{Verb: "release", ID: "ABC"}, ""},
		{"remove ABC\n", Request{Verb: "remove", ID: "ABC"}, ""},
		{"bounce ABC\n", Request{Verb: "bounce", ID: "ABC"}, ""},
		{"requeue\n", Request{Verb: "requeue"}, ""},
		{"requeue ABC\n", Request{Verb: "requeue", ID: "ABC"}, ""},
		{"requeue A B\n", Request{}, "not a queue id"},
		{"list\n", Request{Verb: "list"}, ""},
		{"list x\n", Request{}, "no argument"},
		{"hold\n", Request{}, "needs a queue id"},
		{"hold \n", Request{}, "not a queue id"},
		{"hold ../../etc/passwd\n", Request{}, "not a queue id"},
		{"hold A B\n", Request{}, "not a queue id"},
		{"HOLD ABC\n", Request{}, "unknown request"},
		{"\n", Request{}, "unknown request"},
		{"hold A\nremove B\n", Request{}, "not one line"},
		{"flush " + strings.Repeat("A", 65), Request{}, "not a queue id"},
		{"flush " + strings.Repeat("A", 600), Request{}, "too long"},
	}
	for _, tt := range tests {
		got, err := ParseRequest(tt.line)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.line, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v %v", tt.line, got, err)
		}
		if again, err := ParseRequest(got.String()); err != nil || again != got {
			t.Errorf("%q does not round-trip: %+v %v", got.String(), again, err)
		}
	}
}

func TestParseReply(t *testing.T) {
	for line, want := range map[string]Reply{"ok\n": {OK: true}, "ok flushed 3 message(s)\n": {OK: true, Text: "flushed 3 message(s)"}, "err no such message\n": {Text: "no such message"}} {
		if got, err := ParseReply(line); err != nil || got != want {
			t.Errorf("%q: %+v %v", line, got, err)
		}
	}
	for _, bad := range []string{"", "OK\n", "maybe\n"} {
		if _, err := ParseReply(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if got := formatReply(false, "a\nb\rc"); got != "err a b c\n" {
		t.Errorf("formatReply %q", got)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"flush\n", "hold ABC\n", "list", "bounce A-B_c\r\n", "remove \x00", "flush A B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseRequest(line)
		if err != nil {
			return
		}
		if r.ID != "" && !ValidID(r.ID) {
			t.Fatalf("invalid id %q accepted", r.ID)
		}
		if strings.ContainsAny(r.String(), "\r\n") {
			t.Fatalf("request %q spans lines", r.String())
		}
		if again, err := ParseRequest(r.String()); err != nil || again != r {
			t.Fatalf("%q does not round-trip", r.String())
		}
	})
}

// backoffs counts the resets asked of delivery.
type backoffs struct {
	n     int
	calls atomic.Int32
}

func (b *backoffs) ResetBackoff() int {
	if b.calls.Add(1) == 1 {
		return b.n
	}
	return 0
}

type deferAll struct{}

func (deferAll) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := make([]error, len(rcpts))
	for i := range errs {
		errs[i] = &smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "not today"}
	}
	return errs
}

// The server side on a real spool, through the real client.
func TestServeQueue(t *testing.T) {
	dir := t.TempDir()
	sp, err := spool.New(filepath.Join(dir, "spool"), deferAll{}, nil, spool.Options{RetryInitial: time.Hour, Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	var ids []string
	for i := 0; i < 2; i++ {
		env := &envelope.Envelope{From: "a@example.org", Rcpts: []envelope.Recipient{{Addr: "b@example.net"}}}
		w, _ := sp.Create(env)
		io.WriteString(w, "Subject: x\r\n\r\nx\r\n")
		if err := w.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, env.ID)
	}
	path := filepath.Join(dir, "control.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v", fi.Mode(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	resets := &backoffs{n: 2}
	go func() { done <- (&Server{Queue: sp, Destinations: resets}).Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	do := func(line string) Reply {
		t.Helper()
		req, err := ParseRequest(line)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Do(context.Background(), path, req)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return r
	}
	if r := do("hold " + ids[0]); !r.OK || r.Text != "held "+ids[0] {
		t.Errorf("hold: %+v", r)
	}
	if r := do("flush " + ids[0]); r.OK || !strings.Contains(r.Text, "held") {
		t.Errorf("flush of a held message: %+v", r)
	}
	if r := do("release " + ids[0]); !r.OK {
		t.Errorf("release: %+v", r)
	}
	if r := do("flush"); !r.OK || r.Text != "flushed 2 message(s); back-off of 2 destination(s) ended" {
		t.Errorf("flush: %+v", r)
	}
	if r := do("requeue " + ids[1]); !r.OK || r.Text != "requeued "+ids[1] {
		t.Errorf("requeue: %+v", r)
	}
	if r := do("requeue"); !r.OK || !strings.HasPrefix(r.Text, "requeued ") {
		t.Errorf("requeue all: %+v", r)
	}
	if r := do("requeue NOSUCHID"); r.OK || !strings.Contains(r.Text, "no such message") {
		t.Errorf("requeue unknown: %+v", r)
	}
	if resets.calls.Load() != 3 {
		t.Errorf("back-offs reset %d times, want 3 (flush, requeue, requeue)", resets.calls.Load())
	}
	if r := do("remove NOSUCHID"); r.OK || !strings.Contains(r.Text, "no such message") {
		t.Errorf("remove unknown: %+v", r)
	}
	if r := do("remove " + ids[1]); !r.OK {
		t.Errorf("remove: %+v", r)
	}
	if r := do("bounce " + ids[0]); !r.OK {
		t.Errorf("bounce: %+v", r)
	}
	r := do("list")
	var items []spool.Item
	if err := json.Unmarshal([]byte(r.Text), &items); err != nil || !r.OK {
		t.Fatalf("list: %+v %v", r, err)
	}
	// Left: the bounce to a@example.org, from the null sender.
	if len(items) != 1 || items[0].From != "" || items[0].Rcpts[0] != "a@example.org" {
		t.Errorf("queue after remove and bounce: %+v", items)
	}

	// A raw bad request gets an error line, not a hang.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "shutdown now\n")
	b, _ := io.ReadAll(c)
	c.Close()
	if !strings.HasPrefix(string(b), "err unknown request") {
		t.Errorf("bad request answered %q", b)
	}
}

// A peer whose uid is not allowed is refused before its request is read.
func TestPeerRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var seen atomic.Int64
	seen.Store(-1)
	go func() {
		done <- (&Server{Allowed: func(uid int) bool { seen.Store(int64(uid)); return false }}).Serve(ctx, ln)
	}()
	r, err := Do(context.Background(), path, Request{Verb: VerbFlush})
	cancel()
	<-done
	if err != nil || r.OK || !strings.Contains(r.Text, "permission denied") {
		t.Errorf("refused peer: %+v %v", r, err)
	}
	if seen.Load() != int64(os.Getuid()) {
		t.Errorf("peer uid %d, want %d", seen.Load(), os.Getuid())
	}
}

func TestNoServer(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	if _, err := Do(context.Background(), path, Request{Verb: VerbFlush}); err == nil || !strings.Contains(err.Error(), "no server") {
		t.Errorf("missing socket: %v", err)
	}
	// A stale socket (its server gone) is no server either, and Listen
	// replaces it.
	ln, _ := net.Listen("unix", path)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Do(context.Background(), path, Request{Verb: VerbFlush}); err == nil || !strings.Contains(err.Error(), "no server") {
		t.Errorf("stale socket: %v", err)
	}
	ln2, err := Listen(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	// A live one is not taken over.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another server") {
		t.Errorf("live socket: %v", err)
	}
	ln2.Close()
	// A file that is not a socket is left alone.
	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
}
