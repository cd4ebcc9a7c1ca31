package testpeer

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"postern/internal/procnet"
)

// output collects a program's output from several goroutines.
type output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Program is a peer program (or the postern binary) started for a test.
type Program struct {
	Cmd  *exec.Cmd
	name string
	end  func() // asks the program to end; nil: kill it
	dial func(network, addr string) (net.Conn, error)
	out  output
	done chan struct{}
	own  bool // the addresses waited for must be held by the process itself
}

// How long a program has to listen, and to end once asked to.
const (
	listenWithin = 30 * time.Second
	stopWithin   = 15 * time.Second
)

// StartProgram starts cmd (called name in messages) with its output
// collected, and ends it when the test ends: with the signal stop and,
// if it is still running 15 seconds later, killed (killed at once when
// stop is nil). The output of a failed test is logged. StartProgram
// returns once every address in listen accepts TCP connections, and
// fails the test when the program exits first or does not listen within
// 30 seconds.
func StartProgram(t testing.TB, name string, cmd *exec.Cmd, stop os.Signal, listen ...string) *Program {
	t.Helper()
	var end func()
	if stop != nil {
		end = func() { cmd.Process.Signal(stop) }
	}
	return startProgram(t, name, cmd, end, listen...)
}

// startProgram is StartProgram with end, instead of a signal, asking the
// program to end.
func startProgram(t testing.TB, name string, cmd *exec.Cmd, end func(), listen ...string) *Program {
	t.Helper()
	return startProgramDial(t, name, cmd, end, dialLoopback, listen...)
}

func dialLoopback(network, addr string) (net.Conn, error) {
	return net.DialTimeout(network, addr, time.Second)
}

// startProgramDial is startProgram with dial connecting to the addresses
// in listen (from inside a namespace: Netns.Dial).
func startProgramDial(t testing.TB, name string, cmd *exec.Cmd, end func(), dial func(network, addr string) (net.Conn, error), listen ...string) *Program {
	t.Helper()
	return startProgramOwn(t, name, cmd, end, dial, false, listen...)
}

// startProgramOwn is startProgramDial that, with own, also waits until
// each address is held by the program's own process (read from
// /proc/PID/net/tcp{,6} and /proc/PID/fd).
func startProgramOwn(t testing.TB, name string, cmd *exec.Cmd, end func(), dial func(network, addr string) (net.Conn, error), own bool, listen ...string) *Program {
	t.Helper()
	p := &Program{Cmd: cmd, name: name, end: end, dial: dial, done: make(chan struct{}), own: own}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	// A child left behind (a daemon's worker) must not hold Wait, and
	// with it the test's end, by the output it still has open.
	cmd.WaitDelay = stopWithin
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output())
		}
	})
	deadline := time.Now().Add(listenWithin)
	for _, addr := range listen {
		p.waitListen(t, addr, deadline)
	}
	return p
}

// waitListen returns once addr accepts TCP connections (held by the
// program's process when p.own), and fails the test when the program
// exits first or deadline passes.
func (p *Program) waitListen(t testing.TB, addr string, deadline time.Time) {
	t.Helper()
	for {
		c, err := p.dial("tcp", addr)
		if err == nil {
			c.Close()
			if !p.own {
				return
			}
			held, herr := procnet.Proc("/proc").HeldBy(p.Cmd.Process.Pid, addr)
			if held {
				return
			}
			err = fmt.Errorf("%s answers, but not from %s's process %d (%v)", addr, p.name, p.Cmd.Process.Pid, herr)
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before listening on %s:\n%s", p.name, addr, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %v\n%s", p.name, addr, err, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Output is what the program printed so far.
func (p *Program) Output() string { return p.out.String() }

// Stop ends the program as the test's end would, and waits for it; it
// does nothing once the program has ended.
func (p *Program) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	if p.end == nil {
		p.Kill()
		return
	}
	p.end()
	select {
	case <-p.done:
	case <-time.After(stopWithin):
		p.Kill()
	}
}

// Kill ends the program with SIGKILL, as a crash, and waits for it.
func (p *Program) Kill() {
	p.Cmd.Process.Kill()
	<-p.done
}
