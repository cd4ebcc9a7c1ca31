package smtpclient

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestPipelinedData checks that with PIPELINING the client sends MAIL,
// the RCPTs and DATA before it waits for any reply: the server here
// answers nothing of a transaction until it has read DATA.
func TestPipelinedData(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rcpt    []string // the server's reply to each RCPT
		data    string   // its reply to DATA
		sent    bool     // content goes out
		refused int      // recipients refused
	}{
		{"accepted", []string{"250 ok", "250 ok"}, "354 go", true, 0},
		{"one refused", []string{"550 5.1.1 no", "250 ok"}, "354 go", true, 1},
		{"all refused", []string{"550 5.1.1 no", "550 5.1.1 no"}, "554 5.5.1 no valid recipients", false, 2},
		{"all refused, DATA taken anyway", []string{"550 5.1.1 no", "550 5.1.1 no"}, "354 go", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan []string, 1)
			go pipelineServer(ln, tc.rcpt, tc.data, got)
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c := New(conn, Options{CommandTimeout: 5 * time.Second})
			defer c.Close()
			ctx := context.Background()
			if err := c.Greet(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Hello(ctx, "client.example"); err != nil {
				t.Fatal(err)
			}
			res := c.Send(ctx, &Message{From: "a@x", Rcpts: []Rcpt{{Addr: "b@y"}, {Addr: "c@y"}}}, strings.NewReader("hi\r\n"))
			refused := 0
			for _, e := range res.Rcpts {
				if e != nil {
					refused++
				}
			}
			if res.DataSent != tc.sent || refused != tc.refused || !c.Usable() {
				t.Fatalf("sent %v, %d refused, usable %v: %+v", res.DataSent, refused, c.Usable(), res)
			}
			c.Close() // the server reports what it read once the client is gone
			lines := <-got
			if want := []string{"MAIL FROM:<a@x>", "RCPT TO:<b@y>", "RCPT TO:<c@y>", "DATA"}; strings.Join(lines[:4], "|") != strings.Join(want, "|") {
				t.Errorf("first group %q, want %q", lines[:4], want)
			}
			if last := lines[len(lines)-1]; last != "RSET" && !tc.sent {
				t.Errorf("transaction ended with %q, want RSET", last)
			}
		})
	}
}

// pipelineServer serves one transaction: it reads the group up to DATA
// before replying, then the content if it said 354, then RSET or QUIT,
// and sends the lines it read (content left out) to got.
func pipelineServer(ln net.Listener, rcpt []string, data string, got chan<- []string) {
	var lines []string
	defer func() { got <- lines }()
	c, err := ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	br := bufio.NewReader(c)
	read := func() string {
		l, _ := br.ReadString('\n')
		return strings.TrimRight(l, "\r\n")
	}
	c.Write([]byte("220 test.example ESMTP\r\n"))
	read()
	c.Write([]byte("250-test.example\r\n250 PIPELINING\r\n"))
	for len(lines) == 0 || lines[len(lines)-1] != "DATA" {
		l := read()
		if l == "" {
			return
		}
		lines = append(lines, l)
	}
	c.Write([]byte("250 ok\r\n" + strings.Join(rcpt, "\r\n") + "\r\n" + data + "\r\n"))
	if strings.HasPrefix(data, "354") {
		for read() != "." {
		}
		c.Write([]byte("250 queued\r\n"))
	}
	for {
		l := read()
		if l == "" {
			return
		}
		lines = append(lines, l)
		c.Write([]byte("250 ok\r\n"))
	}
}
