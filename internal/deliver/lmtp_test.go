package deliver

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLMTPPerRecipientReplies runs an LMTP server on a UNIX socket that
// answers each recipient differently after DATA (RFC 2033 4.2).
func TestLMTPPerRecipientReplies(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "lmtp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		w := func(s string) { c.Write([]byte(s + "\r\n")) }
		w("220 lmtp.example LMTP")
		var rcpts []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(cmd, "LHLO "):
				w("250-lmtp.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES")
			case strings.HasPrefix(cmd, "MAIL"):
				w("250 2.1.0 ok")
			case strings.HasPrefix(cmd, "RCPT"):
				if strings.Contains(cmd, "<nouser@") {
					w("550 5.1.1 no such user")
					continue
				}
				rcpts = append(rcpts, cmd)
				w("250 2.1.5 ok")
			case cmd == "DATA":
				w("354 go")
				var b strings.Builder
				for {
					l, _ := br.ReadString('\n')
					if l == ".\r\n" || l == "" {
						break
					}
					b.WriteString(l)
				}
				got <- b.String()
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
			case cmd == "QUIT":
				w("221 bye")
				return
			default:
				w("500 what")
			}
		}
	}()
	l := &LMTP{Network: "unix", Address: sock, Hostname: "postern.example"}
	env, rcpts, body := message("L1", "a@example.org", "Subject: x\r\n\r\n.dot\r\n", "ok@example.test", "full@example.test", "nouser@example.test", "gone@example.test", "ok2@example.test")
	errs := l.Deliver(context.Background(), env, rcpts, body)
	if errs[0] != nil || errs[4] != nil {
		t.Errorf("delivered: %v %v", errs[0], errs[4])
	}
	wantReply(t, "full", errs[1], 452, "4.2.2")
	wantReply(t, "nouser", errs[2], 550, "5.1.1")
	wantReply(t, "gone", errs[3], 552, "5.2.2")
	if c := <-got; c != "Subject: x\r\n\r\n..dot\r\n" {
		t.Errorf("content %q", c)
	}

	// No server: temporary.
	l = &LMTP{Network: "unix", Address: filepath.Join(dir, "none.sock")}
	env, rcpts, body = message("L2", "a@example.org", "x\r\n", "ok@example.test")
	wantReply(t, "no server", l.Deliver(context.Background(), env, rcpts, body)[0], 451, "4.4.1")
}

// TestLMTPToSmtpSink delivers to Postfix's smtp-sink in LMTP mode over TCP.
func TestLMTPToSmtpSink(t *testing.T) {
	dir := t.TempDir()
	port := smtpSink(t, dir, "-L")
	l := &LMTP{Network: "tcp", Address: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Hostname: "postern.example"}
	env, rcpts, body := message("L3", "a@example.org", "Subject: lmtp\r\n\r\nbody\r\n", "a@example.test", "b@example.test")
	for _, err := range l.Deliver(context.Background(), env, rcpts, body) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100 && len(sinkFiles(t, dir)) == 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	files := sinkFiles(t, dir)
	if len(files) != 1 || !strings.Contains(files[0], "b@example.test") || !strings.Contains(files[0], "LMTP") {
		t.Errorf("smtp-sink dump: %q", files)
	}
}
