package smtpclient

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scripted runs a server on loopback that greets, answers EHLO with ext,
// and answers every other command with the reply reply(cmd) gives; the
// DATA content as received (raw, with dot-stuffing) goes to data.
type scripted struct {
	ln    net.Listener
	cmds  chan string
	data  chan string
	ext   string
	reply func(cmd string) string
	// dataReplies are the replies after the final dot (several for LMTP).
	dataReplies []string
	// dataAnyway answers DATA with 354 even with no recipient accepted,
	// as some broken servers do; otherwise DATA then gets 503 (no MAIL)
	// or 554 (no valid recipient), as from a real MTA.
	dataAnyway bool
}

func startScripted(t *testing.T, s *scripted) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.cmds = make(chan string, 100)
	s.data = make(chan string, 10)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	return ln.Addr().String()
}

func (s *scripted) session(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	c.Write([]byte("220 test.example ESMTP\r\n"))
	mail, rcpts := false, 0 // the transaction so far
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		s.cmds <- cmd
		verb := strings.ToUpper(strings.SplitN(cmd, " ", 2)[0])
		switch verb {
		case "EHLO", "LHLO":
			c.Write([]byte("250-test.example\r\n" + s.ext + "250 HELP\r\n"))
		case "DATA":
			if !s.dataAnyway && (!mail || rcpts == 0) {
				if !mail {
					c.Write([]byte("503 5.5.1 no MAIL\r\n"))
				} else {
					c.Write([]byte("554 5.5.1 no valid recipients\r\n"))
				}
				continue
			}
			c.Write([]byte("354 go\r\n"))
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
			s.data <- raw.String()
			replies := s.dataReplies
			if rcpts == 0 {
				replies = []string{"554 5.5.1 no valid recipients"}
			}
			mail, rcpts = false, 0
			for _, r := range replies {
				c.Write([]byte(r + "\r\n"))
			}
		case "QUIT":
			c.Write([]byte("221 bye\r\n"))
			return
		default:
			r := "250 OK"
			if s.reply != nil {
				if x := s.reply(cmd); x != "" {
					r = x
				}
			}
			switch {
			case r == "close":
				return // the connection drops without a reply
			case verb == "RSET":
				mail, rcpts = false, 0
			case verb == "MAIL" && r[0] == '2':
				mail = true
			case verb == "RCPT" && r[0] == '2' && mail:
				rcpts++
			}
			c.Write([]byte(r + "\r\n"))
			if r[:3] == "421" {
				return
			}
		}
	}
}

func dial(t *testing.T, addr string, opt Options) *Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := New(conn, opt)
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.Greet(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Hello(ctx, "client.example"); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSendWireFormat(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		s := &scripted{ext: "250-DSN\r\n250-SIZE 100000\r\n250-8BITMIME\r\n", dataReplies: []string{"250 2.0.0 queued as X"}}
		if pipelining {
			s.ext += "250-PIPELINING\r\n"
		}
		s.reply = func(cmd string) string {
			if strings.Contains(cmd, "<bad@") {
				return "550 5.1.1 no such user"
			}
			return ""
		}
		c := dial(t, startScripted(t, s), Options{})
		body := "Subject: x\r\n\r\n.leading dot\n..two dots\rbare CR\r\n.\r\nlast line no newline"
		m := &Message{From: "a@example.org", Size: int64(len(body)), Body: "8BITMIME", Ret: "HDRS", EnvID: "id+1 x",
			Rcpts: []Rcpt{{Addr: "b@example.net", Notify: "SUCCESS,FAILURE", ORCPT: "rfc822;B@example.net"}, {Addr: "bad@example.net"}}}
		res := c.Send(context.Background(), m, strings.NewReader(body))
		if res.Rcpts[0] != nil || !res.DataSent || res.Whole != nil || !res.DSN {
			t.Fatalf("pipelining=%v: %+v", pipelining, res)
		}
		rep, ok := IsReply(res.Rcpts[1])
		if !ok || rep.Code != 550 || rep.Enhanced != "5.1.1" {
			t.Errorf("bad rcpt: %v", res.Rcpts[1])
		}
		got := <-s.data
		want := "Subject: x\r\n\r\n..leading dot\r\n...two dots\r\nbare CR\r\n..\r\nlast line no newline\r\n"
		if got != want {
			t.Errorf("wire content:\n got %q\nwant %q", got, want)
		}
		var cmds []string
		for len(s.cmds) > 0 {
			cmds = append(cmds, <-s.cmds)
		}
		all := strings.Join(cmds, "\n")
		for _, w := range []string{
			"MAIL FROM:<a@example.org> SIZE=" + strconv.Itoa(len(body)) + " BODY=8BITMIME RET=HDRS ENVID=id+2B1+20x",
			"RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;B@example.net",
			"RCPT TO:<bad@example.net>",
		} {
			if !strings.Contains(all, w) {
				t.Errorf("pipelining=%v: no %q in\n%s", pipelining, w, all)
			}
		}
		if c.Messages() != 1 || !c.Usable() {
			t.Errorf("messages %d usable %v", c.Messages(), c.Usable())
		}
	}
}

func TestSendNoDSNNoParams(t *testing.T) {
	s := &scripted{dataReplies: []string{"250 ok"}}
	c := dial(t, startScripted(t, s), Options{})
	m := &Message{From: "", Ret: "FULL", EnvID: "x", Rcpts: []Rcpt{{Addr: "b@example.net", Notify: "NEVER", ORCPT: "rfc822;b@example.net"}}}
	res := c.Send(context.Background(), m, strings.NewReader("x\r\n"))
	if res.Rcpts[0] != nil {
		t.Fatal(res.Rcpts[0])
	}
	if res.DSN {
		t.Error("Result.DSN set for a server without DSN")
	}
	<-s.cmds // EHLO
	if got := <-s.cmds; got != "MAIL FROM:<>" {
		t.Errorf("MAIL = %q (DSN parameters to a server without DSN)", got)
	}
	if got := <-s.cmds; got != "RCPT TO:<b@example.net>" {
		t.Errorf("RCPT = %q", got)
	}
}

func TestSendRefusals(t *testing.T) {
	ctx := context.Background()
	// SIZE, SMTPUTF8 and 8BITMIME refusals before anything is sent.
	s := &scripted{ext: "250-SIZE 100\r\n"}
	c := dial(t, startScripted(t, s), Options{})
	for _, m := range []*Message{
		{From: "a@x", Size: 101, Rcpts: []Rcpt{{Addr: "b@y"}}},
		{From: "a@x", SMTPUTF8: true, Rcpts: []Rcpt{{Addr: "b@y"}}},
		{From: "a@x", Body: "8BITMIME", Rcpts: []Rcpt{{Addr: "b@y"}}},
	} {
		res := c.Send(ctx, m, strings.NewReader("x"))
		rep, ok := IsReply(res.Rcpts[0])
		if !ok || !rep.Permanent() || res.DataSent {
			t.Errorf("%+v: %v", m, res.Rcpts[0])
		}
	}
	if len(s.cmds) != 1 { // only EHLO
		t.Errorf("commands sent: %d", len(s.cmds))
	}
	// MAIL refused with 4xx: the whole transaction, connection still usable.
	s = &scripted{ext: "250-PIPELINING\r\n", reply: func(cmd string) string {
		if strings.HasPrefix(cmd, "MAIL") {
			return "451 4.3.0 try later"
		}
		return ""
	}}
	c = dial(t, startScripted(t, s), Options{})
	res := c.Send(ctx, &Message{From: "a@x", Rcpts: []Rcpt{{Addr: "b@y"}, {Addr: "c@y"}}}, strings.NewReader("x"))
	if rep, ok := IsReply(res.Whole); !ok || rep.Code != 451 || res.DataSent {
		t.Errorf("MAIL 451: %+v", res)
	}
	if !c.Usable() {
		t.Error("connection unusable after a refused MAIL")
	}
	// Injection attempt through an address.
	res = c.Send(ctx, &Message{From: "a@x", Rcpts: []Rcpt{{Addr: "b@y>\r\nRCPT TO:<c@y"}}}, strings.NewReader("x"))
	if res.Rcpts[0] == nil {
		t.Error("CRLF in an address was sent")
	}
}

func TestLMTPPerRecipient(t *testing.T) {
	s := &scripted{ext: "250-PIPELINING\r\n", dataReplies: []string{"250 2.1.5 a ok", "452 4.2.2 b over quota", "552 5.2.2 c full"},
		reply: func(cmd string) string {
			if strings.Contains(cmd, "<x@") {
				return "550 5.1.1 unknown"
			}
			return ""
		}}
	c := dial(t, startScripted(t, s), Options{LMTP: true})
	if got := <-s.cmds; !strings.HasPrefix(got, "LHLO ") {
		t.Errorf("greeting command %q", got)
	}
	res := c.Send(context.Background(), &Message{From: "s@x", Rcpts: []Rcpt{{Addr: "a@y"}, {Addr: "x@y"}, {Addr: "b@y"}, {Addr: "c@y"}}}, strings.NewReader("hi\r\n"))
	codes := []int{0, 550, 452, 552}
	for i, want := range codes {
		if want == 0 {
			if res.Rcpts[i] != nil {
				t.Errorf("rcpt %d: %v", i, res.Rcpts[i])
			}
			continue
		}
		rep, ok := IsReply(res.Rcpts[i])
		if !ok || rep.Code != want {
			t.Errorf("rcpt %d: %v, want %d", i, res.Rcpts[i], want)
		}
	}
}

func TestStartTLSInjectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		c.Write([]byte("220 x\r\n"))
		br.ReadString('\n')
		c.Write([]byte("250-x\r\n250 STARTTLS\r\n"))
		br.ReadString('\n')
		// The 220 and an injected reply in one segment.
		c.Write([]byte("220 go ahead\r\n250 injected\r\n"))
		time.Sleep(time.Second)
	}()
	c := dial(t, ln.Addr().String(), Options{})
	err = c.StartTLS(context.Background(), nil)
	if err == nil || c.Usable() {
		t.Fatalf("StartTLS with injected data: %v, usable %v", err, c.Usable())
	}
	if _, ok := IsReply(err); ok {
		t.Errorf("want a protocol error, got reply %v", err)
	}
}
