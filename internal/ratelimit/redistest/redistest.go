// Package redistest starts a real redis-server on a loopback port for
// tests, in a temporary directory, stopped when the test ends.
package redistest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"postern/internal/testenv"
)

// Server is a running redis-server.
type Server struct {
	Addr string // 127.0.0.1:port
	cmd  *exec.Cmd
}

// URL is the redis:// URL of database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Start runs redis-server (skipped locally, failed under CI=true when it
// is not installed) without persistence, listening on 127.0.0.1 only.
//
// With POSTERN_BENCH_REDIS=HOST:PORT it starts nothing and hands out that
// server instead, for measuring Redis's own time per command (redis-cli
// info commandstats) after a benchmark; never for tests, which stop and
// empty their server.
func Start(t testing.TB) *Server {
	t.Helper()
	if addr := os.Getenv("POSTERN_BENCH_REDIS"); addr != "" {
		return &Server{Addr: addr}
	}
	for attempt := 0; ; attempt++ {
		s, ok := start(t, "127.0.0.1", freePort(t), exec.Command)
		if ok {
			return s
		}
		if attempt >= 3 {
			t.Fatalf("redis-server did not start on %s", s.Addr)
		}
	}
}

// StartWith runs redis-server as Start does, listening on host:port, the
// command made by command (exec.Command, or a network namespace's
// Command: testpeer.Netns).
func StartWith(t testing.TB, host, port string, command func(name string, args ...string) *exec.Cmd) *Server {
	t.Helper()
	s, ok := start(t, host, port, command)
	if !ok {
		t.Fatalf("redis-server did not start on %s", s.Addr)
	}
	return s
}

// start runs one redis-server; false when it did not come up (it is
// stopped then).
func start(t testing.TB, host, port string, command func(name string, args ...string) *exec.Cmd) (*Server, bool) {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server")
	// Protected mode refuses any client but loopback; elsewhere (a test's
	// own namespaces) it has to be off.
	protected := "yes"
	if host != "127.0.0.1" {
		protected = "no"
	}
	cmd := command(bin, "--bind", host, "--port", port, "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--protected-mode", protected, "--daemonize", "no",
		"--logfile", "")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	s := &Server{Addr: net.JoinHostPort(host, port), cmd: cmd}
	if s.wait(out) {
		t.Cleanup(s.Stop)
		return s, true
	}
	s.Stop()
	return s, false
}

// wait returns once the server accepts connections, or false when it
// exited (port taken).
func (s *Server) wait(out interface{ Read([]byte) (int, error) }) bool {
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- true
				break
			}
		}
		for sc.Scan() {
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		return ok
	case <-time.After(10 * time.Second):
		return false
	}
}

// Stop kills the server (as a crash would).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(testenv.FreePort(t))
	return port
}
