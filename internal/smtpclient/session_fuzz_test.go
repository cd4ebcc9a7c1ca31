package smtpclient

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzSession plays a server that sends arbitrary bytes: the client must
// end with results for every recipient, never panic or hang, and never
// report a recipient delivered unless the server's bytes said so.
func FuzzSession(f *testing.F) {
	f.Add("220 x\r\n250-x\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n")
	f.Add("220 x\r\n250 x\r\n250 ok\r\n550 no\r\n")
	f.Add("220 x\r\n250-x\r\n250 SIZE 1\r\n")
	f.Add("220 x\r\n500 no ehlo\r\n250 helo ok\r\n250 ok\r\n250 ok\r\n354 go\r\n421 bye\r\n")
	f.Add("554 go away\r\n")
	f.Fuzz(func(t *testing.T, script string) {
		cl, srv := net.Pipe()
		defer cl.Close()
		go func() {
			go io.Copy(io.Discard, srv)
			srv.Write([]byte(script))
			srv.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c := New(cl, Options{CommandTimeout: time.Second, DataTimeout: time.Second})
		if err := c.Greet(ctx); err != nil {
			return
		}
		if err := c.Hello(ctx, "client.example"); err != nil {
			return
		}
		m := &Message{From: "a@x", Size: 10, Rcpts: []Rcpt{{Addr: "b@y"}, {Addr: "c@y"}}}
		res := c.Send(ctx, m, strings.NewReader("hello\r\n"))
		if len(res.Rcpts) != 2 {
			t.Fatalf("%d results", len(res.Rcpts))
		}
		for _, err := range res.Rcpts {
			if err == nil && !strings.Contains(script, "354") {
				t.Fatalf("delivered without a 354 in %q", script)
			}
		}
	})
}
