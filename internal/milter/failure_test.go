package milter

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"postern/internal/inbound"
	"postern/internal/milter/spec"
)

// deadSocket is a loopback port with nothing listening.
func deadSocket(t *testing.T) spec.Socket {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return spec.Socket{Network: "tcp", Address: addr}
}

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		flags spec.OnFailure
		code  int
	}{{spec.Continue, 0}, {spec.TempFail, 451}, {spec.Reject, 550}} {
		t.Run(tc.flags.String(), func(t *testing.T) {
			c := newChecker(Filter{Name: "down", Socket: deadSocket(t), OnFailure: tc.flags})
			cl, v := connect(t, c, "mta")
			if v != nil {
				t.Fatalf("connect: %+v", v)
			}
			if v := cl.helo("client.example.org"); v != nil {
				t.Fatalf("helo: %+v", v)
			}
			v = cl.mail("alice@example.org")
			if tc.code == 0 {
				if v != nil {
					t.Fatalf("fail open: %+v", v)
				}
				cl.rcpt("bob@example.test")
				if v, _ := cl.data(testMsg); v != nil {
					t.Fatalf("fail open data: %+v", v)
				}
				return
			}
			refusedWith(t, "MAIL", v, tc.code)
			if tc.code == 451 && v.Reply.Enhanced != "4.3.2" {
				t.Errorf("enhanced code %s", v.Reply.Enhanced)
			}
		})
	}
}

func TestTimeoutAtEndOfMessage(t *testing.T) {
	tm := &testMilter{delay: 2 * time.Second}
	sock := startMilter(t, tm, allActions)
	// R is shorter than the milter takes at the end of the message, but E
	// is long enough: the slow end of message is fine.
	c := newChecker(Filter{Name: "slow", Socket: sock, OnFailure: spec.TempFail,
		Timeouts: spec.Timeouts{Read: time.Second, End: 15 * time.Second}})
	cl, _ := connect(t, c, "mta")
	if v, _ := cl.transaction(testMsg); v != nil {
		t.Fatalf("with E=15s: %+v", v)
	}
	// E shorter than the milter takes: tempfail, and the next MAIL too.
	c = newChecker(Filter{Name: "slow", Socket: sock, OnFailure: spec.TempFail,
		Timeouts: spec.Timeouts{Read: 15 * time.Second, End: 300 * time.Millisecond}})
	cl, _ = connect(t, c, "mta")
	v, _ := cl.transaction(testMsg)
	refusedWith(t, "E=300ms", v, 451)
	refusedWith(t, "next MAIL", cl.mail("alice@example.org"), 451)
}

func TestMilterDiesMidSession(t *testing.T) {
	tm := &testMilter{}
	p := startProxy(t, startMilter(t, tm, allActions))
	c := newChecker(Filter{Name: "t", Socket: p.sock, OnFailure: spec.TempFail})
	cl, _ := connect(t, c, "mta")
	if v := cl.mail("alice@example.org"); v != nil {
		t.Fatal(v)
	}
	p.cut() // the milter crashes
	refusedWith(t, "rcpt after the milter died", cl.rcpt("bob@example.test"), 451)
	refusedWith(t, "next MAIL", cl.mail("alice@example.org"), 451)
}

// proxy forwards a milter's connections and can cut them all, as a
// crashing milter would.
type proxy struct {
	sock  spec.Socket
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, to spec.Socket) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxy{sock: spec.Socket{Network: "tcp", Address: ln.Addr().String()}}
	go func() {
		for {
			a, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial(to.Network, to.Address)
			if err != nil {
				a.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, a, b)
			p.mu.Unlock()
			go func() { io.Copy(a, b); a.Close() }()
			go func() { io.Copy(b, a); b.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestCancelledContext(t *testing.T) {
	tm := &testMilter{delay: 30 * time.Second}
	c := newChecker(Filter{Name: "slow", Socket: startMilter(t, tm, allActions), OnFailure: spec.TempFail})
	cl, _ := connect(t, c, "mta")
	cl.mail("alice@example.org")
	cl.rcpt("bob@example.test")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	m := &inbound.Message{}
	m.Write([]byte(testMsg))
	start := time.Now()
	v := c.CheckData(ctx, cl.txn, m)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("CheckData took %s after the context ended", d)
	}
	refusedWith(t, "cancelled", v, 451)
}
