package test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/procnet"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// holdPort starts another program (Debian's python3) that listens on
// addr until the test ends, and returns it with its command name.
func holdPort(t *testing.T, addr string) (*testpeer.Program, string) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		testenv.Missing(t, "/usr/bin/python3 (Debian's python3), to hold a port")
	}
	host, port, _ := net.SplitHostPort(addr)
	script := fmt.Sprintf("import socket, time\ns = socket.socket()\ns.bind((%q, %s))\ns.listen()\ntime.sleep(3600)\n", host, port)
	p := testpeer.StartProgram(t, "python3", exec.Command("/usr/bin/python3", "-c", script), nil, addr)
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return p, strings.TrimSpace(string(comm))
}

// serveOnce runs `postern serve` (after the command line wrap, when
// given) for a start that must fail, and returns its output and exit
// status.
func (s *server) serveOnce(t *testing.T, wrap ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(wrap, binary, "serve", "-config", s.cfgPath)
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("postern serve still runs after 60 seconds:\n%s", out)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if err == nil {
		return string(out), 0
	}
	return string(out), ee.ExitCode()
}

// nothingLeft fails the test when a refused start left something
// behind: a listener, the local or control socket, a version recorded
// in the change log as started with, a process.
func (s *server) nothingLeft(t *testing.T) {
	t.Helper()
	for _, addr := range []string{s.MTA, s.Sub, s.SMTPS} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still listens after the refused start", addr)
		}
	}
	for _, f := range []string{filepath.Join(s.dir, "run", "submit.sock"), filepath.Join(s.dir, "data", "control.sock"), filepath.Join(s.dir, "data", "changes")} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left after the refused start (%v)", f, err)
		}
	}
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), s.cfgPath) {
			t.Errorf("a process still runs with %s: %s", s.cfgPath, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}

// An admin address that another program holds stops the start: postern
// serve exits 1 at once, names the address, the program and the fix,
// and leaves nothing behind; postern check says the same; with address
// = "" the server starts. A held SMTP listener is refused the same way.
func TestServeRefusesHeldPort(t *testing.T) {
	needRoot(t)
	held := freePort(t)
	holder, comm := holdPort(t, held)
	pid := holder.Cmd.Process.Pid

	s := newServer(t, serverConfig{Admin: held})
	out, code := s.serveOnce(t)
	want := fmt.Sprintf(`postern serve: [admin] address %s cannot be opened: the address is already in use by process %d (%s); set [admin] address to a free address of this host, or address = "" for no admin listener`, held, pid, comm)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("postern serve exited %d, want 1 and %q in:\n%s", code, want, out)
	}
	if strings.Contains(out, "postern started") || strings.Contains(out, "admin listener") && !strings.Contains(out, "[admin] address") {
		t.Errorf("the refused start says it started:\n%s", out)
	}
	s.nothingLeft(t)
	if ok, err := procnet.Proc("/proc").HeldBy(pid, held); !ok {
		t.Errorf("%s is no longer held by the other program: %v", held, err)
	}

	chk, err := s.postern("", "check")
	if wantChk := fmt.Sprintf("[admin] address %s is in use by process %d (%s): postern serve will not start", held, pid, comm); err == nil || !strings.Contains(chk, wantChk) {
		t.Errorf("postern check (%v) does not say %q:\n%s", err, wantChk, chk)
	}

	// The fix the message names: no admin listener.
	cfg, err := os.ReadFile(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(cfg), fmt.Sprintf("[admin]\naddress = %q", held), "[admin]\naddress = \"\"", 1)
	if fixed == string(cfg) {
		t.Fatalf("no [admin] address %s in the config:\n%s", held, cfg)
	}
	os.WriteFile(s.cfgPath, []byte(fixed), 0o600)
	s.Admin = ""
	s.start()
	if st, _ := s.postern("", "check"); strings.Contains(st, "in use") {
		t.Errorf("check reports the running server's own ports as in use:\n%s", st)
	}
	s.stop()

	// An SMTP listener on the held port.
	m := newServer(t, serverConfig{})
	cfg, _ = os.ReadFile(m.cfgPath)
	os.WriteFile(m.cfgPath, []byte(strings.Replace(string(cfg), fmt.Sprintf("address = %q", m.MTA), fmt.Sprintf("address = %q", held), 1)), 0o600)
	m.MTA = held
	out, code = m.serveOnce(t)
	want = fmt.Sprintf(`postern serve: [[listener]] "mta" address %s cannot be opened: the address is already in use by process %d (%s); set [[listener]] "mta" address to a free address of this host, or stop the other server`, held, pid, comm)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("postern serve exited %d, want 1 and %q in:\n%s", code, want, out)
	}
	m.MTA = freePort(t) // held by the other program: nothingLeft dials the rest
	m.nothingLeft(t)
}

// A port below 1024 without the capability to bind it (root, as a
// service manager may start it, without CAP_NET_BIND_SERVICE): the
// refusal says permission denied and why.
func TestServeRefusesPrivilegedPort(t *testing.T) {
	needRoot(t)
	setpriv := testenv.LookPath(t, "setpriv")
	s := newServer(t, serverConfig{Admin: "127.0.0.1:1023"})
	out, code := s.serveOnce(t, setpriv, "--bounding-set", "-net_bind_service")
	want := `postern serve: [admin] address 127.0.0.1:1023 cannot be opened: permission denied (a port below 1024 needs postern started as root, with the capability CAP_NET_BIND_SERVICE); set [admin] address to a free address of this host, or address = ""`
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("postern serve without CAP_NET_BIND_SERVICE exited %d, want 1 and %q in:\n%s", code, want, out)
	}
	s.nothingLeft(t)
}
