package testpeer

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// TCPPeer is a small server of a test's own on a loopback port: each
// connection is served by a session function in its own goroutine, and
// closed when it returns. It stops when the test ends.
type TCPPeer struct {
	Addr string // "127.0.0.1:port"
	Port int

	mu    sync.Mutex
	conns int
}

// ServeTCP starts a TCPPeer whose connections session serves.
func ServeTCP(t testing.TB, session func(net.Conn)) *TCPPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &TCPPeer{Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns++
			p.mu.Unlock()
			go func() {
				defer c.Close()
				session(c)
			}()
		}
	}()
	return p
}

// Conns is the number of connections accepted so far.
func (p *TCPPeer) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

// ReadData reads an SMTP or LMTP message after DATA up to the line with
// the single dot, and returns it as it came, without that line.
func ReadData(br *bufio.Reader) (string, error) {
	var raw strings.Builder
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return raw.String(), err
		}
		if l == ".\r\n" {
			return raw.String(), nil
		}
		raw.WriteString(l)
	}
}
