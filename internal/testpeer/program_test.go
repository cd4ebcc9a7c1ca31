package testpeer

import (
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fatalTB records the first Fatalf and ends the goroutine that called
// it, as testing.T does; cleanups run when asked.
type fatalTB struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	cleanups []func()
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fatalTB) Cleanup(fn func())   { f.cleanups = append(f.cleanups, fn) }
func (f *fatalTB) Failed() bool        { return f.fatal != "" }
func (f *fatalTB) Logf(string, ...any) {}

// A program that never listens is not taken to be ready because another
// one (this test) answers on the address it was to hold.
func TestWaitListenOwnProcess(t *testing.T) {
	addr := ServeTCP(t, func(net.Conn) {}).Addr
	run := func(own bool) string {
		ft := &fatalTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			startProgramOwn(ft, "sleep", exec.Command("sleep", "1"), nil, dialLoopback, own, addr)
		}()
		<-done
		for _, fn := range ft.cleanups {
			fn()
		}
		return ft.fatal
	}
	if got := run(false); got != "" {
		t.Fatalf("without the check, any listener will do; got %q", got)
	}
	if got := run(true); !strings.Contains(got, "sleep exited before listening on "+addr) {
		t.Fatalf("with the check: %q, want the program to be found not listening", got)
	}
}
