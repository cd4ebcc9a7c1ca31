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

const crashEnv = "POSTERN_CRASH_DIR"

var crashRcpts = []string{"alice@example.test", "bob@example.test"}

func crashSetup(dir string) (*spool.Spool, error) {
	local := &deliver.Local{Mailbox: filepath.Join(dir, "mail") + "/{user}/"}
	return spool.New(filepath.Join(dir, "spool"), local, slog.New(slog.DiscardHandler), spool.Options{RetryInitial: 10 * time.Millisecond})
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("run by TestCrashRecovery")
	}
	s, err := crashSetup(dir)
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
				fmt.Fprintf(w, "Subject: crash test\r\nX-Check: %s\r\n\r\n%s\r\n", env.ID, strings.Repeat("body ", 1000))
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
	dir := t.TempDir()
	committed := map[string]bool{}
	for round := 0; round < 4; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
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
		killed := false
		timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Signal(syscall.SIGKILL) })
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
			if n == killAfter && !killed {
				killed = true
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		timer.Stop()
		err = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child ended on its own after %d messages: %v", round, n, err)
		}
		t.Logf("round %d: killed after %d commits", round, n)
	}

	// Restart, recover, deliver everything.
	s, err := crashSetup(dir)
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
		copies := map[string]int{}
		for _, sub := range []string{"new", "cur"} {
			files, _ := filepath.Glob(filepath.Join(dir, "mail", user, sub, "*"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				s := string(b)
				i := strings.Index(s, "X-Check: ")
				if i < 0 || !strings.HasSuffix(s, strings.Repeat("body ", 1000)+"\n") {
					t.Errorf("%s: incomplete message", f)
					continue
				}
				id := s[i+9:]
				id = id[:strings.IndexByte(id, '\n')]
				if !strings.Contains(filepath.Base(f), id) {
					t.Errorf("%s holds message %s", f, id)
				}
				copies[id]++
			}
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
