package deliver

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lmtpServer is a small LMTP server (RFC 2033) on a UNIX socket that
// counts its connections and answers each recipient by its local part
// after the content: full@ 452, gone@ 552, others 250; nouser@ is refused
// at RCPT.
type lmtpServer struct {
	t    *testing.T
	sock string
	ln   net.Listener

	mu       sync.Mutex
	conns    []net.Conn
	accepted int
	messages int
	cmds     []string // every command, in order, of every connection
	quits    int      // connections ended by QUIT
	closed   int      // connections whose client went away (QUIT or not)
	// refuseMail answers MAIL with this on a connection's second and
	// later transactions ("" for 250).
	refuseMail string
	// dropAfterDot closes the connection after the content's final dot
	// without a reply.
	dropAfterDot bool
}

func startLMTPServer(t *testing.T) *lmtpServer {
	t.Helper()
	s := &lmtpServer{t: t, sock: filepath.Join(t.TempDir(), "lmtp.sock")}
	ln, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	t.Cleanup(func() {
		ln.Close()
		s.kill()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepted++
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	return s
}

// kill closes every connection from the server's side.
func (s *lmtpServer) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *lmtpServer) count() (accepted, messages, quits, closed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted, s.messages, s.quits, s.closed
}

func (s *lmtpServer) serve(c net.Conn) {
	defer func() {
		s.mu.Lock()
		s.closed++
		s.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(c)
	w := func(s string) { c.Write([]byte(s + "\r\n")) }
	w("220 lmtp.example LMTP")
	var rcpts []string
	inTxn := false
	txns := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.cmds = append(s.cmds, cmd)
		refuse, drop := s.refuseMail, s.dropAfterDot
		s.mu.Unlock()
		switch {
		case strings.HasPrefix(cmd, "LHLO "):
			w("250-lmtp.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES")
		case strings.HasPrefix(cmd, "EHLO") || strings.HasPrefix(cmd, "HELO"):
			w("500 5.5.1 this is LMTP")
		case strings.HasPrefix(cmd, "MAIL"):
			if inTxn {
				w("503 5.5.1 nested MAIL")
				continue
			}
			txns++
			if txns > 1 && refuse != "" {
				w(refuse)
				if strings.HasPrefix(refuse, "421") {
					return
				}
				continue
			}
			inTxn = true
			rcpts = nil
			w("250 2.1.0 ok")
		case strings.HasPrefix(cmd, "RCPT"):
			if !inTxn {
				w("503 5.5.1 no MAIL")
				continue
			}
			if strings.Contains(cmd, "<nouser@") {
				w("550 5.1.1 no such user")
				continue
			}
			rcpts = append(rcpts, cmd)
			w("250 2.1.5 ok")
		case cmd == "RSET":
			inTxn = false
			rcpts = nil
			w("250 2.0.0 ok")
		case cmd == "DATA":
			if !inTxn || len(rcpts) == 0 {
				w("503 5.5.1 no recipients")
				continue
			}
			w("354 go")
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			if drop {
				return
			}
			s.mu.Lock()
			s.messages++
			s.mu.Unlock()
			for _, r := range rcpts {
				switch {
				case strings.Contains(r, "<full@"):
					w("452 4.2.2 mailbox full")
				case strings.Contains(r, "<gone@"):
					w("552 5.2.2 over quota for good")
				default:
					w("250 2.0.0 delivered")
				}
			}
			inTxn = false
		case cmd == "QUIT":
			s.mu.Lock()
			s.quits++
			s.mu.Unlock()
			w("221 bye")
			return
		default:
			w("500 what")
		}
	}
}

func (s *lmtpServer) courier(pool *LMTPPool) *LMTP {
	return &LMTP{Network: "unix", Address: s.sock, Hostname: "postern.example", Pool: pool}
}

func deliverOK(t *testing.T, l *LMTP, id string, rcpts ...string) {
	t.Helper()
	env, rs, body := message(id, "a@example.org", "Subject: x\r\n\r\nbody\r\n", rcpts...)
	for i, err := range l.Deliver(context.Background(), env, rs, body) {
		if err != nil {
			t.Fatalf("%s to %s: %v", id, rcpts[i], err)
		}
	}
}

// waitFor polls cond for up to 3s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestLMTPPoolReuse sends several messages to one server over one
// connection, each recipient still getting its own reply (RFC 2033 4.2).
func TestLMTPPoolReuse(t *testing.T) {
	s := startLMTPServer(t)
	pool := &LMTPPool{Idle: 10 * time.Second}
	defer pool.Close()
	l := s.courier(pool)
	for _, id := range []string{"M1", "M2", "M3"} {
		env, rcpts, body := message(id, "a@example.org", "Subject: x\r\n\r\nbody\r\n",
			"ok@example.test", "full@example.test", "nouser@example.test", "gone@example.test", "ok2@example.test")
		errs := l.Deliver(context.Background(), env, rcpts, body)
		if errs[0] != nil || errs[4] != nil {
			t.Errorf("%s delivered: %v %v", id, errs[0], errs[4])
		}
		wantReply(t, id+" full", errs[1], 452, "4.2.2")
		wantReply(t, id+" nouser", errs[2], 550, "5.1.1")
		wantReply(t, id+" gone", errs[3], 552, "5.2.2")
	}
	// Every recipient refused: the server refuses the pipelined DATA, the
	// client sends RSET and the connection goes on serving.
	env, rcpts, body := message("M4", "a@example.org", "x\r\n", "nouser@example.test")
	wantReply(t, "M4", l.Deliver(context.Background(), env, rcpts, body)[0], 550, "5.1.1")
	deliverOK(t, l, "M5", "ok@example.test")
	acc, msgs, _, _ := s.count()
	if acc != 1 || msgs != 4 {
		t.Errorf("connections %d, messages %d; want 1, 4", acc, msgs)
	}
	s.mu.Lock()
	cmds := strings.Join(s.cmds, "|")
	s.mu.Unlock()
	if strings.Count(cmds, "LHLO postern.example") != 1 || !strings.Contains(cmds, "RCPT TO:<nouser@example.test>|DATA|RSET|MAIL") {
		t.Errorf("commands: %s", cmds)
	}
	if strings.Contains(cmds, "EHLO") || strings.Contains(cmds, "HELO") {
		t.Errorf("not LMTP: %s", cmds)
	}

	// Close ends the idle connection with QUIT.
	pool.Close()
	waitFor(t, "QUIT", func() bool { _, _, q, _ := s.count(); return q == 1 })
}

// TestLMTPPoolIdle closes an idle connection after the idle time; the
// next message opens a new one.
func TestLMTPPoolIdle(t *testing.T) {
	s := startLMTPServer(t)
	pool := &LMTPPool{Idle: 150 * time.Millisecond}
	defer pool.Close()
	l := s.courier(pool)
	deliverOK(t, l, "I1", "ok@example.test")
	if _, _, q, _ := s.count(); q != 0 {
		t.Fatalf("connection closed at once")
	}
	waitFor(t, "idle QUIT", func() bool { _, _, q, _ := s.count(); return q == 1 })
	deliverOK(t, l, "I2", "ok@example.test")
	if acc, _, _, _ := s.count(); acc != 2 {
		t.Errorf("connections %d, want 2", acc)
	}
}

// TestLMTPPoolMaxMessages closes a connection after MaxMessages.
func TestLMTPPoolMaxMessages(t *testing.T) {
	s := startLMTPServer(t)
	pool := &LMTPPool{Idle: 10 * time.Second, MaxMessages: 2}
	defer pool.Close()
	l := s.courier(pool)
	for _, id := range []string{"X1", "X2", "X3", "X4", "X5"} {
		deliverOK(t, l, id, "ok@example.test")
	}
	acc, msgs, _, _ := s.count()
	if acc != 3 || msgs != 5 {
		t.Errorf("connections %d, messages %d; want 3, 5", acc, msgs)
	}
	waitFor(t, "QUIT after 2 messages", func() bool { _, _, q, _ := s.count(); return q == 2 })

	// Without a pool: one connection per message, as before.
	s2 := startLMTPServer(t)
	l = s2.courier(nil)
	deliverOK(t, l, "N1", "ok@example.test")
	deliverOK(t, l, "N2", "ok@example.test")
	if acc, _, _, _ := s2.count(); acc != 2 {
		t.Errorf("without pool: connections %d, want 2", acc)
	}
	waitFor(t, "QUIT without pool", func() bool { _, _, q, _ := s2.count(); return q == 2 })
}

// TestLMTPPoolStale: an idle connection the server closed, or one that
// gets 421 to MAIL, is dropped and the message goes on a new connection.
func TestLMTPPoolStale(t *testing.T) {
	s := startLMTPServer(t)
	pool := &LMTPPool{Idle: 10 * time.Second}
	defer pool.Close()
	l := s.courier(pool)
	deliverOK(t, l, "S1", "ok@example.test")
	s.kill()
	waitFor(t, "server side close", func() bool { _, _, _, c := s.count(); return c == 1 })
	deliverOK(t, l, "S2", "ok@example.test", "ok2@example.test")
	if acc, msgs, _, _ := s.count(); acc != 2 || msgs != 2 {
		t.Errorf("after kill: connections %d, messages %d; want 2, 2", acc, msgs)
	}

	s.mu.Lock()
	s.refuseMail = "421 4.3.2 shutting down"
	s.mu.Unlock()
	deliverOK(t, l, "S3", "ok@example.test")
	if acc, msgs, _, _ := s.count(); acc != 3 || msgs != 3 {
		t.Errorf("after 421: connections %d, messages %d; want 3, 3", acc, msgs)
	}

	// A temporary refusal of MAIL on a fresh connection is the answer.
	s.mu.Lock()
	s.refuseMail = "451 4.3.0 try later"
	s.mu.Unlock()
	// The connection of S3 has had one transaction: MAIL is refused
	// there, then on the new connection the first MAIL is taken.
	deliverOK(t, l, "S4", "ok@example.test")
	if acc, msgs, _, _ := s.count(); acc != 4 || msgs != 4 {
		t.Errorf("after 451: connections %d, messages %d; want 4, 4", acc, msgs)
	}
}

// TestLMTPPoolNoResendAfterData: a reused connection that fails after the
// content was sent is not tried again at once (the server may have
// delivered to some recipients): the queue's retry decides.
func TestLMTPPoolNoResendAfterData(t *testing.T) {
	s := startLMTPServer(t)
	pool := &LMTPPool{Idle: 10 * time.Second}
	defer pool.Close()
	l := s.courier(pool)
	deliverOK(t, l, "D1", "ok@example.test")
	s.mu.Lock()
	s.dropAfterDot = true
	s.mu.Unlock()
	env, rcpts, body := message("D2", "a@example.org", "x\r\n", "ok@example.test", "ok2@example.test")
	for i, err := range l.Deliver(context.Background(), env, rcpts, body) {
		wantReply(t, rcpts[i].Addr, err, 451, "4.4.1")
	}
	if acc, _, _, _ := s.count(); acc != 1 {
		t.Errorf("connections %d, want 1 (no second attempt)", acc)
	}
	s.mu.Lock()
	s.dropAfterDot = false
	s.mu.Unlock()
	deliverOK(t, l, "D3", "ok@example.test")
	if acc, _, _, _ := s.count(); acc != 2 {
		t.Errorf("connections %d, want 2", acc)
	}
}

// TestLMTPPoolConcurrent: deliveries at once each get a connection of
// their own (the server refuses a MAIL inside a transaction, which
// sharing would cause).
func TestLMTPPoolConcurrent(t *testing.T) {
	s := startLMTPServer(t)
	pool := &LMTPPool{Idle: 10 * time.Second}
	defer pool.Close()
	l := s.courier(pool)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				env, rcpts, body := message("C", "a@example.org", "x\r\n", "ok@example.test")
				if err := l.Deliver(context.Background(), env, rcpts, body)[0]; err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	acc, msgs, _, _ := s.count()
	if msgs != 20 || acc > 4 || acc < 1 {
		t.Errorf("connections %d, messages %d; want 1-4, 20", acc, msgs)
	}
}
