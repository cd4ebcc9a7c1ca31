package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

// courierFunc is a Courier made of a function: the tests script the
// delivery outcomes to drive the retry logic.
type courierFunc func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error

func (f courierFunc) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	return f(ctx, env, rcpts, body)
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func submit(t testing.TB, s *Spool, content string, rcpts ...string) string {
	t.Helper()
	env := &envelope.Envelope{From: "sender@example.org"}
	for _, r := range rcpts {
		env.Rcpts = append(env.Rcpts, envelope.Recipient{Addr: r})
	}
	w, err := s.Create(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env.ID
}

func runSpool(t *testing.T, s *Spool) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dirNames(t *testing.T, dir string) []string {
	n, err := readDirNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCommitAndDeliver(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	var got sync.Map
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		b, _ := io.ReadAll(io.NewSectionReader(body, 0, env.Size))
		got.Store(env.ID, string(b))
		return make([]error, len(rcpts))
	})
	s, err := New(dir, c, testLog(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("spool dir: %v %v", fi, err)
	}
	id := submit(t, s, "Subject: one\r\n\r\nbody\r\n", "a@example.test")
	// Committed, not yet delivered (Run not started): the file is in the
	// queue under its id, no temporary file is left.
	if names := dirNames(t, s.qdir); len(names) != 1 || names[0] != id {
		t.Fatalf("queue dir holds %v, want [%s]", names, id)
	}
	items, err := List(dir)
	if err != nil || len(items) != 1 || items[0].ID != id || items[0].Size != 22 || items[0].Rcpts[0] != "a@example.test" {
		t.Fatalf("List = %+v, %v", items, err)
	}
	runSpool(t, s)
	// The file goes first, then the item in memory: wait for both.
	waitFor(t, "delivery", func() bool { return len(dirNames(t, s.qdir)) == 0 && len(s.Items()) == 0 })
	if v, _ := got.Load(id); v != "Subject: one\r\n\r\nbody\r\n" {
		t.Errorf("courier got %q", v)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	s, err := New(t.TempDir(), courierFunc(nil), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(&envelope.Envelope{From: "a@b"})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "rejected content")
	w.Abort()
	w.Abort()
	if err := w.Commit(context.Background()); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if names := dirNames(t, s.qdir); len(names) != 0 {
		t.Errorf("queue holds %v after Abort", names)
	}
	// A canceled context makes Commit fail and leave nothing either.
	w, _ = s.Create(&envelope.Envelope{From: "a@b"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Commit(ctx); err == nil {
		t.Error("Commit with a canceled context succeeded")
	}
	if names := dirNames(t, s.qdir); len(names) != 0 {
		t.Errorf("queue holds %v after a failed Commit", names)
	}
	if _, err := s.Create(&envelope.Envelope{ID: "../etc/passwd"}); err == nil {
		t.Error("Create accepted a path as id")
	}
}

func TestDuplicateIDRefused(t *testing.T) {
	s, _ := New(t.TempDir(), courierFunc(nil), nil, Options{})
	for i, want := range []bool{true, false} {
		w, err := s.Create(&envelope.Envelope{ID: "SAME", From: "a@b"})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, fmt.Sprint("copy ", i))
		if err := w.Commit(context.Background()); (err == nil) != want {
			t.Errorf("commit %d: %v", i, err)
		}
	}
	if names := dirNames(t, s.qdir); len(names) != 1 {
		t.Errorf("queue holds %v", names)
	}
}

// Temporary failures are retried with backoff; a partial delivery is
// recorded so that a restart retries only what is still pending.
func TestRetryAndPartialDelivery(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var calls [][]string
	var bounces []string
	failB := true
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		mu.Lock()
		defer mu.Unlock()
		if env.From == "" {
			// The bounce for c@x.
			bounces = append(bounces, rcpts[0].Addr)
			return make([]error, len(rcpts))
		}
		var names []string
		errs := make([]error, len(rcpts))
		for i, r := range rcpts {
			names = append(names, r.Addr)
			switch r.Addr {
			case "b@x":
				if failB {
					errs[i] = &smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "no answer"}
				}
			case "c@x":
				errs[i] = &smtp.Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user"}
			}
		}
		calls = append(calls, names)
		return errs
	})
	s, err := New(dir, c, testLog(t), Options{RetryInitial: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	id := submit(t, s, "x\r\n", "a@x", "b@x", "c@x")
	stop := runSpool(t, s)
	waitFor(t, "first attempt and the bounce", func() bool {
		items := s.Items()
		mu.Lock()
		defer mu.Unlock()
		return len(items) == 1 && items[0].Attempts == 1 && len(bounces) == 1
	})
	stop()
	s.Close()
	items, err := List(dir)
	if err != nil || len(items) != 1 {
		t.Fatalf("List: %+v %v", items, err)
	}
	it := items[0]
	if it.ID != id || len(it.Rcpts) != 1 || it.Rcpts[0] != "b@x" || it.Attempts != 1 || it.LastError == "" ||
		it.NextAttempt.Sub(time.Now()) < 59*time.Minute {
		t.Errorf("after one attempt: %+v", it)
	}

	// Restart: the retry is not due for an hour; Kick does not change that.
	s2, err := New(dir, c, testLog(t), Options{RetryInitial: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stop2 := runSpool(t, s2)
	s2.Kick()
	time.Sleep(100 * time.Millisecond)
	stop2()
	s2.Close()
	mu.Lock()
	if len(calls) != 1 {
		t.Errorf("retried before due: %v", calls)
	}
	failB = false
	mu.Unlock()

	// Restart with a short retry time: only b@x is tried, then all is done.
	s3, err := New(dir, c, testLog(t), Options{RetryInitial: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s3.mu.Lock()
	for _, it := range s3.items {
		it.next = time.Now() // as if the hour had passed
	}
	s3.mu.Unlock()
	runSpool(t, s3)
	waitFor(t, "retry", func() bool { return len(dirNames(t, s3.qdir)) == 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || len(calls[1]) != 1 || calls[1][0] != "b@x" {
		t.Errorf("calls = %v, want the retry for b@x only", calls)
	}
	if len(bounces) != 1 || bounces[0] != "sender@example.org" {
		t.Errorf("bounces = %v, want one to the sender for c@x", bounces)
	}
}

func TestBackoff(t *testing.T) {
	s := &Spool{opt: Options{RetryInitial: time.Minute, RetryMax: 10 * time.Minute}.withDefaults()}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for i, w := range want {
		if got := s.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := s.backoff(1000); got != 10*time.Minute {
		t.Errorf("backoff(1000) = %v", got)
	}
}

func TestLifetimeExpires(t *testing.T) {
	var n atomic.Int32
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		n.Add(1)
		return []error{errors.New("connection refused")}
	})
	s, _ := New(t.TempDir(), c, testLog(t), Options{RetryInitial: time.Millisecond, Lifetime: 500 * time.Millisecond})
	submit(t, s, "x\r\n", "a@x")
	runSpool(t, s)
	waitFor(t, "expiry", func() bool { return len(dirNames(t, s.qdir)) == 0 })
	if n.Load() < 2 {
		t.Errorf("%d attempts before expiry", n.Load())
	}
}

// At most MaxActive deliveries run at once, and committing is not held up
// by deliveries in progress.
func TestMaxActive(t *testing.T) {
	var cur, peak atomic.Int32
	release := make(chan struct{})
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		v := cur.Add(1)
		for {
			p := peak.Load()
			if v <= p || peak.CompareAndSwap(p, v) {
				break
			}
		}
		<-release
		cur.Add(-1)
		return make([]error, len(rcpts))
	})
	s, _ := New(t.TempDir(), c, testLog(t), Options{MaxActive: 3})
	runSpool(t, s)
	for i := 0; i < 10; i++ {
		submit(t, s, "x\r\n", "a@x")
	}
	waitFor(t, "3 active", func() bool { return cur.Load() == 3 })
	time.Sleep(50 * time.Millisecond)
	if p := peak.Load(); p != 3 {
		t.Errorf("peak %d active, want 3", p)
	}
	close(release)
	waitFor(t, "all delivered", func() bool { return len(dirNames(t, s.qdir)) == 0 })
}

func TestRecovery(t *testing.T) {
	dir := t.TempDir()
	var delivered sync.Map
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		if !envelope.IsRedelivery(ctx) {
			t.Errorf("recovered message %s not marked as a redelivery", env.ID)
		}
		delivered.Store(env.ID, true)
		return make([]error, len(rcpts))
	})
	s, err := New(dir, c, testLog(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := submit(t, s, "good\r\n", "a@x")
	bad := submit(t, s, "will be damaged\r\n", "a@x")
	done := submit(t, s, "done\r\n", "a@x")
	q := s.qdir
	// An uncommitted message, a corrupt one, a finished one whose file
	// was still there, and an orphan state file.
	os.WriteFile(filepath.Join(q, "UNCOMMITTED.tmp"), []byte("partial"), 0o600)
	f, _ := os.OpenFile(filepath.Join(q, bad), os.O_RDWR, 0)
	f.WriteAt([]byte("W"), 0)
	f.Close()
	os.WriteFile(filepath.Join(q, done+".state"), appendDelivered(nil, 0, time.Now()), 0o600)
	os.WriteFile(filepath.Join(q, "GONE.state"), appendDelivered(nil, 0, time.Now()), 0o600)
	os.WriteFile(filepath.Join(q, "GARBAGE"), []byte("not a queue file"), 0o600)

	if _, err := New(dir, c, testLog(t), Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Spool on the same directory: %v", err)
	}
	s.Close()
	s2, err := New(dir, c, testLog(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"UNCOMMITTED.tmp", "GONE.state", "GARBAGE", done, done + ".state"} {
		if _, err := os.Stat(filepath.Join(q, n)); err == nil {
			t.Errorf("%s still in the queue after recovery", n)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "corrupt", "GARBAGE")); err != nil {
		t.Errorf("garbage file not moved to corrupt/: %v", err)
	}
	runSpool(t, s2)
	waitFor(t, "delivery", func() bool { return len(dirNames(t, q)) == 0 })
	if _, ok := delivered.Load(good); !ok {
		t.Error("good message not delivered")
	}
	if _, ok := delivered.Load(bad); ok {
		t.Error("damaged message delivered")
	}
	if _, err := os.Stat(filepath.Join(dir, "corrupt", bad)); err != nil {
		t.Errorf("damaged message not in corrupt/: %v", err)
	}
}

func TestCourierPanicIsRetried(t *testing.T) {
	var n atomic.Int32
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		if n.Add(1) == 1 {
			panic("bug in a courier")
		}
		return make([]error, len(rcpts))
	})
	s, _ := New(t.TempDir(), c, testLog(t), Options{RetryInitial: time.Millisecond})
	submit(t, s, "x\r\n", "a@x")
	runSpool(t, s)
	waitFor(t, "delivery after the panic", func() bool { return len(dirNames(t, s.qdir)) == 0 })
	if n.Load() != 2 {
		t.Errorf("%d attempts, want 2", n.Load())
	}
}

// A message whose envelope says Hold stays queued, also across a restart,
// until Release; Hold keeps a queued message back.
func TestHoldAndRelease(t *testing.T) {
	dir := t.TempDir()
	var delivered sync.Map
	c := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		delivered.Store(env.ID, true)
		return make([]error, len(rcpts))
	})
	s, _ := New(dir, c, testLog(t), Options{})
	env := &envelope.Envelope{From: "a@b", Rcpts: []envelope.Recipient{{Addr: "c@d"}}, Hold: true}
	w, _ := s.Create(env)
	io.WriteString(w, "held\r\n")
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := runSpool(t, s)
	time.Sleep(100 * time.Millisecond)
	if _, ok := delivered.Load(env.ID); ok {
		t.Fatal("held message delivered")
	}
	if items := s.Items(); len(items) != 1 || !items[0].Held {
		t.Fatalf("Items = %+v", items)
	}
	stop()
	s.Close()
	if items, _ := List(dir); len(items) != 1 || !items[0].Held {
		t.Fatalf("List = %+v", items)
	}

	// Still held after a restart; released, it goes.
	s2, err := New(dir, c, testLog(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	runSpool(t, s2)
	time.Sleep(50 * time.Millisecond)
	if _, ok := delivered.Load(env.ID); ok {
		t.Fatal("held message delivered after a restart")
	}
	if err := s2.Release(env.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after release", func() bool { return len(dirNames(t, s2.qdir)) == 0 })

	// Hold on an ordinary message that waits for a retry.
	var fail atomic.Bool
	fail.Store(true)
	c3 := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		if fail.Load() {
			return []error{errors.New("try later")}
		}
		return make([]error, len(rcpts))
	})
	s3, _ := New(t.TempDir(), c3, testLog(t), Options{RetryInitial: 20 * time.Millisecond})
	id := submit(t, s3, "x\r\n", "a@x")
	runSpool(t, s3)
	waitFor(t, "first attempt", func() bool { it := s3.Items(); return len(it) == 1 && it[0].Attempts >= 1 })
	if err := s3.Hold(id); err != nil {
		t.Fatal(err)
	}
	fail.Store(false)
	time.Sleep(100 * time.Millisecond)
	if it := s3.Items(); len(it) != 1 || !it[0].Held {
		t.Fatalf("held message left the queue: %+v", it)
	}
	if err := s3.Release(id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after release", func() bool { return len(dirNames(t, s3.qdir)) == 0 })
	if err := s3.Hold("NOSUCH"); err == nil {
		t.Error("Hold of an unknown id succeeded")
	}
}

// Concurrent commits share syncs, and each Commit returns only after its
// file is in the queue under its final name.
func TestGroupCommit(t *testing.T) {
	// As slow as a disk even where the test's directory is tmpfs.
	s, err := New(t.TempDir(), courierFunc(nil), nil, Options{syncLatency: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 50, 10
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := submit(t, s, "Subject: x\r\n\r\nbody\r\n", "a@x")
				if _, err := os.Stat(s.msgPath(id)); err != nil {
					t.Errorf("after Commit: %v", err)
				}
				if _, err := os.Stat(s.tmpPath(id)); err == nil {
					t.Errorf("after Commit: %s.tmp still there", id)
				}
			}
		}()
	}
	wg.Wait()
	n := s.group.batches.Load()
	t.Logf("%d commits in %d batches", workers*each, n)
	if n > workers*each*8/10 {
		t.Errorf("%d commits took %d batches: the syncs were not shared", workers*each, n)
	}
	if len(s.Items()) != workers*each {
		t.Errorf("%d items queued, want %d", len(s.Items()), workers*each)
	}
}
