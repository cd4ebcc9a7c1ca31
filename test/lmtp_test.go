package test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testpeer"
)

// lmtpPeer is a small LMTP server (RFC 2033) on loopback TCP that counts
// its connections and QUITs.
type lmtpPeer struct {
	*testpeer.TCPPeer
	mu    sync.Mutex
	quits int
	lhlo  int
	msgs  []string // recipients of each message, per-recipient reply given
}

func startLMTPPeer(t *testing.T) *lmtpPeer {
	t.Helper()
	p := &lmtpPeer{}
	p.TCPPeer = testpeer.ServeTCP(t, p.session)
	return p
}

func (p *lmtpPeer) session(c net.Conn) {
	br := bufio.NewReader(c)
	w := func(s string) { c.Write([]byte(s + "\r\n")) }
	w("220 lmtp.peer.example LMTP")
	var rcpts []string
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(cmd, "LHLO "):
			p.mu.Lock()
			p.lhlo++
			p.mu.Unlock()
			w("250-lmtp.peer.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES")
		case strings.HasPrefix(cmd, "MAIL"):
			rcpts = nil
			w("250 2.1.0 ok")
		case strings.HasPrefix(cmd, "RCPT"):
			rcpts = append(rcpts, cmd)
			w("250 2.1.5 ok")
		case cmd == "DATA":
			w("354 go")
			if _, err := testpeer.ReadData(br); err != nil {
				return
			}
			// RFC 2033 4.2: one reply per accepted recipient.
			for _, r := range rcpts {
				if strings.Contains(r, "<full@") {
					w("452 4.2.2 mailbox full")
				} else {
					w("250 2.0.0 delivered")
				}
			}
			p.mu.Lock()
			p.msgs = append(p.msgs, strings.Join(rcpts, " "))
			p.mu.Unlock()
		case cmd == "RSET":
			rcpts = nil
			w("250 2.0.0 ok")
		case cmd == "QUIT":
			p.mu.Lock()
			p.quits++
			p.mu.Unlock()
			w("221 bye")
			return
		default:
			w("500 5.5.1 what")
		}
	}
}

func (p *lmtpPeer) state() (conns, quits, lhlo, msgs int) {
	conns = p.Conns()
	p.mu.Lock()
	defer p.mu.Unlock()
	return conns, p.quits, p.lhlo, len(p.msgs)
}

func (p *lmtpPeer) waitFor(t *testing.T, what string, s *server, cond func(conns, quits, lhlo, msgs int) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(p.state()) {
		if time.Now().After(deadline) {
			c, q, l, m := p.state()
			t.Fatalf("%s: conns=%d quits=%d lhlo=%d msgs=%d\n%s", what, c, q, l, m, s.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLMTPConnectionReuse: messages that follow each other to one LMTP
// server share a connection; it is closed with QUIT after the idle time
// and when the server stops.
func TestLMTPConnectionReuse(t *testing.T) {
	peer := startLMTPPeer(t)
	dir := mapsDir(t, map[string]string{"mailertable": fmt.Sprintf("lmtp.example lmtp:[127.0.0.1]:%d\n", peer.Port)})
	dns := dnstest.Start(t, dnstest.Zone{})
	// relayConfig sets connection_idle = "1s".
	s := newServer(t, serverConfig{MapsDir: dir, Extra: relayConfig(dns.Addr, 25, "")})
	s.start()
	for i := 1; i <= 3; i++ {
		relayOne(t, s, "alice@example.test", "a@lmtp.example,full@lmtp.example", fmt.Sprintf("Subject: m%d\r\n\r\nhi\r\n", i))
		peer.waitFor(t, fmt.Sprintf("message %d", i), s, func(_, _, _, m int) bool { return m >= i })
		time.Sleep(50 * time.Millisecond) // the connection goes back to the pool
	}
	if c, _, l, _ := peer.state(); c != 1 || l != 1 {
		t.Errorf("3 messages: %d connections, %d LHLO; want 1, 1", c, l)
	}
	// full@ got 452 each time: deferred, per recipient.
	if n := strings.Count(s.logs(), "4.2.2"); n < 3 {
		t.Errorf("full@: %d deferrals logged, want 3\n%s", n, s.logs())
	}
	// Idle for connection_idle: closed with QUIT.
	peer.waitFor(t, "QUIT after idle", s, func(_, q, _, _ int) bool { return q == 1 })
	// The next message opens a new connection, which the server's stop
	// closes with QUIT.
	relayOne(t, s, "alice@example.test", "b@lmtp.example", "Subject: m4\r\n\r\nhi\r\n")
	peer.waitFor(t, "message 4", s, func(c, _, _, m int) bool { return m >= 4 && c == 2 })
	time.Sleep(50 * time.Millisecond)
	s.stop()
	peer.waitFor(t, "QUIT at stop", s, func(_, q, _, _ int) bool { return q == 2 })
}
