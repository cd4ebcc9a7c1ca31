package test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// 1,000 idle connections (greeted and past EHLO) must fit in 64 MiB of
// resident memory of the server process.
func TestThousandIdleConnectionsMemory(t *testing.T) {
	s := newServer(t, serverConfig{})
	s.start()
	const n = 1000
	conns := openIdle(t, s.MTA, n)
	rss := residentKiB(t, s.process().Pid)
	t.Logf("%d idle connections: server resident memory %.1f MiB", n, float64(rss)/1024)
	if rss > 64*1024 {
		t.Fatalf("resident memory %d KiB with %d idle connections, over 64 MiB", rss, n)
	}
	// Still serving.
	if code, err := conns[0].cmd("NOOP"); err != nil || code != 250 {
		t.Fatalf("NOOP: %d %v", code, err)
	}
}

func residentKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// Started as root, the server runs as the configured user: every uid of
// the process (real, effective, saved) is that user's.
func TestRunsUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: nothing to drop")
	}
	s := newServer(t, serverConfig{})
	s.start()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.process().Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") {
			for _, id := range f[1:] {
				if id == "0" {
					t.Fatalf("still privileged: %s", line)
				}
			}
		}
		if len(f) >= 1 && f[0] == "Groups:" {
			for _, g := range f[1:] {
				if g == "0" {
					t.Fatalf("still in group root: %s", line)
				}
			}
		}
	}
}

// A configuration writable by others is refused, naming the path.
func TestRefusesWritableConfig(t *testing.T) {
	s := newServer(t, serverConfig{})
	if err := os.Chmod(s.cfgPath, 0o666); err != nil {
		t.Fatal(err)
	}
	out, err := s.postern("", "serve")
	if err == nil {
		t.Fatalf("serve started with a world-writable config:\n%s", out)
	}
	if !strings.Contains(out, s.cfgPath) {
		t.Fatalf("the refusal does not name the file:\n%s", out)
	}
}
