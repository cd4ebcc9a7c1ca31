package spool_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"postern/internal/deliver"
	"postern/internal/envelope"
	"postern/internal/spool"
)

// The crash test runs the test binary again as a child (TestCrashChild
// with POSTERN_CRASH_DIR set). The child commits messages from many
// goroutines while delivering them into Maildirs, and prints each queue
// id once its Commit returned. The parent kills it with SIGKILL at a
// random moment, several times, then recovers the spool, delivers what is
// left and checks that every printed id is in each recipient's Maildir
// exactly once.

const (
	crashEnv     = "POSTERN_CRASH_DIR"
	crashModeEnv = "POSTERN_CRASH_MAILBOX" // "maildir" or "mbox"
)

var crashRcpts = []string{"alice@example.test", "bob@example.test"}

func crashSetup(dir, mode string) (*spool.Spool, error) {
	mailbox := filepath.Join(dir, "mail") + "/{user}"
	if mode == "maildir" {
		mailbox += "/"
	}
	local := &deliver.Local{Mailbox: mailbox}
	return spool.New(filepath.Join(dir, "spool"), local, slog.New(slog.DiscardHandler), spool.Options{RetryInitial: 10 * time.Millisecond})
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("run by TestCrashRecovery")
	}
	s, err := crashSetup(dir, os.Getenv(crashModeEnv))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	go s.Run(context.Background())
	var out sync.Mutex
	stdout := bufio.NewWriter(os.Stdout)
	for g := 0; g < 20; g++ {
		go func() {
			for {
				env := &envelope.Envelope{From: "sender@example.org"}
				for _, r := range crashRcpts {
					env.Rcpts = append(env.Rcpts, envelope.Recipient{Addr: r})
				}
				w, err := s.Create(env)
				if err != nil {
					fmt.Println("error:", err)
					os.Exit(1)
				}
				fmt.Fprintf(w, "Subject: crash test\r\nX-Check: %s\r\n\r\n%s\r\n", env.ID, strings.Repeat(crashBody, 300))
				if err := w.Commit(context.Background()); err != nil {
					fmt.Println("error:", err)
					os.Exit(1)
				}
				out.Lock()
				stdout.WriteString(env.ID + "\n")
				stdout.Flush()
				out.Unlock()
			}
		}()
	}
	select {}
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is not short")
	}
	for _, mode := range []string{"maildir", "mbox"} {
		t.Run(mode, func(t *testing.T) { crashRecovery(t, mode) })
	}
}

func crashRecovery(t *testing.T, mode string) {
	dir := t.TempDir()
	committed := map[string]bool{}
	for round := 0; round < 4; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashModeEnv+"="+mode)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 30 + rand.IntN(300)
		sc := bufio.NewScanner(stdout)
		n := 0
		var killed atomic.Bool
		// On a very slow machine, kill it after a while whatever it did.
		timer := time.AfterFunc(20*time.Second, func() {
			killed.Store(true)
			cmd.Process.Signal(syscall.SIGKILL)
		})
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error:") {
				t.Errorf("child: %s", line)
				continue
			}
			if line == "PASS" || strings.HasPrefix(line, "---") || line == "" {
				continue
			}
			committed[line] = true
			n++
			if n == killAfter && !killed.Load() {
				killed.Store(true)
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		timer.Stop()
		err = cmd.Wait()
		if !killed.Load() {
			t.Fatalf("round %d: child ended on its own after %d messages: %v", round, n, err)
		}
		t.Logf("round %d: killed after %d commits", round, n)
	}

	// Restart, recover, deliver everything.
	s, err := crashSetup(dir, mode)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for len(s.Items()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still queued: %+v", len(s.Items()), s.Items()[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if tmp, _ := filepath.Glob(filepath.Join(dir, "spool", "queue", "*")); len(tmp) != 0 {
		t.Errorf("queue directory not empty: %v", tmp[:min(len(tmp), 5)])
	}
	if bad, _ := filepath.Glob(filepath.Join(dir, "spool", "corrupt", "*")); len(bad) != 0 {
		t.Errorf("corrupt queue files after crashes: %v", bad)
	}

	for _, r := range crashRcpts {
		user := r[:strings.IndexByte(r, '@')]
		var copies map[string]int
		if mode == "maildir" {
			copies = maildirCopies(t, filepath.Join(dir, "mail", user))
		} else {
			copies = mboxCopies(t, filepath.Join(dir, "mail", user))
		}
		for id := range committed {
			if copies[id] != 1 {
				t.Errorf("%s: message %s delivered %d times, want once", user, id, copies[id])
			}
		}
		for id, n := range copies {
			if n != 1 {
				t.Errorf("%s: message %s delivered %d times", user, id, n)
			}
		}
		t.Logf("%s: %d committed messages, %d in the Maildir", user, len(committed), len(copies))
	}
}

const crashBody = "body body body"

// maildirCopies counts the messages in a Maildir by X-Check id.
func maildirCopies(t *testing.T, dir string) map[string]int {
	copies := map[string]int{}
	for _, sub := range []string{"new", "cur"} {
		files, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			id, ok := checkID(string(b))
			if !ok {
				t.Errorf("%s: incomplete message", f)
				continue
			}
			if !strings.Contains(filepath.Base(f), id) {
				t.Errorf("%s holds message %s", f, id)
			}
			copies[id]++
		}
	}
	return copies
}

// mboxCopies counts the messages in an mbox file by X-Check id.
func mboxCopies(t *testing.T, path string) map[string]int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copies := map[string]int{}
	s := string(b)
	if !strings.HasPrefix(s, "From ") || !strings.HasSuffix(s, "\n\n") {
		t.Fatalf("%s is not a well-formed mbox", path)
	}
	for _, m := range strings.Split(strings.TrimSuffix(s[len("From "):], "\n\n"), "\n\nFrom ") {
		id, ok := checkID(m + "\n")
		if !ok {
			// A copy torn by a kill stays in place when another message
			// was appended after it before its own redelivery (which then
			// appends a whole copy): mbox has no way to remove it safely.
			// Nothing is lost or doubled; the torn part is only noise.
			t.Logf("torn copy left in %s: %.80q", path, m)
			continue
		}
		copies[id]++
	}
	return copies
}

// checkID returns the X-Check id of a complete message.
func checkID(s string) (string, bool) {
	i := strings.Index(s, "X-Check: ")
	if i < 0 || !strings.HasSuffix(s, strings.Repeat(crashBody, 300)+"\n") {
		return "", false
	}
	id := s[i+len("X-Check: "):]
	return id[:strings.IndexByte(id, '\n')], true
}
