package deliver

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is an SMTP server on loopback for delivery tests. It records
// commands and the DATA content exactly as it came over the wire
// (dot-stuffed, line ends as sent), and can misbehave on request.
type receiver struct {
	t    *testing.T
	ln   net.Listener
	Addr string
	Port int

	Name string   // greeting name ["rx.example"]
	Ext  []string // EHLO extensions ["PIPELINING", "8BITMIME"]
	TLS  *tls.Config
	// BreakTLS answers STARTTLS with 220 and then sends garbage instead
	// of a handshake.
	BreakTLS bool
	// Reply, when it returns non-"", answers a command (after the
	// receiver's own bookkeeping); n counts that command's uses, from 1.
	Reply func(cmd string, n int) string
	// Delay before answering the final dot.
	Delay time.Duration

	mu       sync.Mutex
	cmds     []string
	data     []string
	counts   map[string]int
	conns    atomic.Int32
	active   atomic.Int32
	maxAct   atomic.Int32
	tlsConns atomic.Int32
}

func startReceiver(t *testing.T, r *receiver) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.t, r.ln, r.Addr = t, ln, ln.Addr().String()
	r.Port = ln.Addr().(*net.TCPAddr).Port
	r.counts = map[string]int{}
	if r.Name == "" {
		r.Name = "rx.example"
	}
	if r.Ext == nil {
		r.Ext = []string{"PIPELINING", "8BITMIME"}
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.conns.Add(1)
			go r.session(c)
		}
	}()
	return r
}

func (r *receiver) record(cmd string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, cmd)
	verb := strings.ToUpper(strings.SplitN(cmd, " ", 2)[0])
	if strings.HasPrefix(strings.ToUpper(cmd), "MAIL FROM") || strings.HasPrefix(strings.ToUpper(cmd), "RCPT TO") {
		verb = strings.ToUpper(cmd[:4])
	}
	r.counts[verb]++
	return r.counts[verb]
}

// Commands returns the commands received so far.
func (r *receiver) Commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...)
}

// Data returns the contents received so far, raw.
func (r *receiver) Data() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.data...)
}

func (r *receiver) session(c net.Conn) {
	n := r.active.Add(1)
	for {
		m := r.maxAct.Load()
		if n <= m || r.maxAct.CompareAndSwap(m, n) {
			break
		}
	}
	defer r.active.Add(-1)
	defer func() { c.Close() }()
	br := bufio.NewReader(c)
	w := func(s string) { c.Write([]byte(s)) }
	w("220 " + r.Name + " ESMTP test\r\n")
	inTLS := false
	rcpts := 0
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		k := r.record(cmd)
		verb := strings.ToUpper(strings.SplitN(cmd, " ", 2)[0])
		if r.Reply != nil && verb != "DATA" {
			if rep := r.Reply(cmd, k); rep != "" {
				w(rep + "\r\n")
				if strings.HasPrefix(rep, "421") {
					return
				}
				continue
			}
		}
		switch verb {
		case "EHLO", "LHLO":
			var b strings.Builder
			b.WriteString("250-" + r.Name + "\r\n")
			for _, e := range r.Ext {
				if e == "STARTTLS" && (inTLS || r.TLS == nil && !r.BreakTLS) {
					continue
				}
				b.WriteString("250-" + e + "\r\n")
			}
			b.WriteString("250 HELP\r\n")
			w(b.String())
		case "HELO":
			w("250 " + r.Name + "\r\n")
		case "STARTTLS":
			w("220 2.0.0 ready\r\n")
			if r.BreakTLS {
				w("this is not a TLS server hello\r\n")
				return
			}
			tc := tls.Server(c, r.TLS)
			if err := tc.Handshake(); err != nil {
				return
			}
			r.tlsConns.Add(1)
			c, br, inTLS = tc, bufio.NewReader(tc), true
		case "AUTH":
			w("235 2.7.0 ok\r\n")
		case "MAIL":
			rcpts = 0
			w("250 2.1.0 ok\r\n")
		case "RCPT":
			rcpts++
			w("250 2.1.5 ok\r\n")
		case "DATA":
			if r.Reply != nil {
				if rep := r.Reply(cmd, k); rep != "" {
					w(rep + "\r\n")
					continue
				}
			}
			w("354 go ahead\r\n")
			var raw strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				raw.WriteString(l)
			}
			r.mu.Lock()
			r.data = append(r.data, raw.String())
			r.mu.Unlock()
			time.Sleep(r.Delay)
			if r.Reply != nil {
				if rep := r.Reply(".", k); rep != "" {
					w(rep + "\r\n")
					continue
				}
			}
			w("250 2.0.0 queued\r\n")
		case "RSET", "NOOP":
			w("250 2.0.0 ok\r\n")
		case "QUIT":
			w("221 2.0.0 bye\r\n")
			return
		default:
			w("502 5.5.1 unknown\r\n")
		}
	}
}
