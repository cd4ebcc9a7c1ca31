package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/smtp"
)

// lineLog is a slog.Handler keeping each line's level, message and
// attributes, but for the client's address and the error text.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (h *lineLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *lineLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *lineLog) WithGroup(string) slog.Handler            { return h }

func (h *lineLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "client" && a.Key != "err" {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	})
	h.mu.Lock()
	h.lines = append(h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func (h *lineLog) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

// events records what the server told the sessions, in order.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) { e.mu.Lock(); e.list = append(e.list, s); e.mu.Unlock() }

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

// scriptBackend makes sessions that record their events; refuse, when
// set, is returned instead of a session.
type scriptBackend struct {
	ev     *events
	refuse *smtp.Reply
	pause  time.Duration     // greet pause; 0: none
	mail   func(from string) // called in Mail
}

type scriptSession struct {
	recSession
	b    *scriptBackend
	hang bool
}

type pausingScriptSession struct{ *scriptSession }

func (p pausingScriptSession) GreetPause() time.Duration { return p.b.pause }
func (p pausingScriptSession) EarlyTalker() *smtp.Reply {
	return &smtp.Reply{Code: 554, Enhanced: "5.5.0", Text: "talked first"}
}

func (b *scriptBackend) NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply) {
	if b.refuse != nil {
		b.ev.add("refused")
		return nil, b.refuse
	}
	b.ev.add("new")
	s := &scriptSession{recSession: recSession{rec: &recorder{}}, b: b}
	if b.pause > 0 {
		return pausingScriptSession{s}, nil
	}
	return s, nil
}

func (s *scriptSession) TLS(cs tls.ConnectionState) { s.b.ev.add("tls") }
func (s *scriptSession) Hello(ctx context.Context, name string, ext bool) *smtp.Reply {
	s.b.ev.add("hello " + name)
	return nil
}
func (s *scriptSession) Mail(ctx context.Context, from smtp.Path, p smtp.Params) *smtp.Reply {
	if s.b.mail != nil {
		s.b.mail(from.String())
	}
	s.hang = from.Local == "hangup"
	return s.recSession.Mail(ctx, from, p)
}
func (s *scriptSession) Hangup() bool { return s.hang }
func (s *scriptSession) Close()       { s.b.ev.add("close") }

// step sends a line (none when "") and reads a reply with code; code 0
// means the server closes the connection instead.
type step struct {
	send string
	code int
}

// TestServeConversations runs whole connections through serve: the
// greeting or what replaces it, the command loop and how it ends, with
// the session events and log lines each leaves.
func TestServeConversations(t *testing.T) {
	long := "NOOP " + strings.Repeat("x", 1100)
	for _, c := range []struct {
		name    string
		mode    Mode
		opts    Options
		backend scriptBackend
		tls     bool // the client speaks TLS from the start
		steps   []step
		events  []string
		logs    []string
	}{{
		name:   "greeting and QUIT",
		steps:  []step{{"", 220}, {"EHLO client.example", 250}, {"QUIT", 221}, {"", 0}},
		events: []string{"new", "hello client.example", "close"},
	}, {
		name:    "refused before the greeting",
		backend: scriptBackend{refuse: &smtp.Reply{Code: 554, Enhanced: "5.7.1", Text: "not from you"}},
		steps:   []step{{"", 554}, {"", 0}},
		events:  []string{"refused"},
	}, {
		name:   "implicit TLS",
		mode:   ModeSMTPS,
		tls:    true,
		steps:  []step{{"", 220}, {"EHLO client.example", 250}, {"QUIT", 221}, {"", 0}},
		events: []string{"new", "tls", "hello client.example", "close"},
	}, {
		name:  "implicit TLS, plaintext client",
		mode:  ModeSMTPS,
		steps: []step{{"EHLO client.example", 0}},
		logs:  []string{"INFO tls handshake failed"},
	}, {
		name:    "early talker",
		backend: scriptBackend{pause: 300 * time.Millisecond},
		steps:   []step{{"EHLO early.example", 554}, {"", 0}},
		events:  []string{"new", "close"},
		logs:    []string{"INFO early talker"},
	}, {
		name:    "patient client after the greet pause",
		backend: scriptBackend{pause: 100 * time.Millisecond},
		steps:   []step{{"", 220}, {"QUIT", 221}, {"", 0}},
		events:  []string{"new", "close"},
	}, {
		name:   "too long and bare LF lines are answered and the loop goes on",
		steps:  []step{{"", 220}, {long, 500}, {"NOOP\n", 500}, {"NOOP", 250}, {"QUIT", 221}, {"", 0}},
		events: []string{"new", "close"},
	}, {
		name:   "too many errors",
		opts:   Options{MaxErrors: 3},
		steps:  []step{{"", 220}, {long, 500}, {"NOOP\n", 500}, {"BOGUS", 500}, {"", 421}, {"", 0}},
		events: []string{"new", "close"},
		logs:   []string{"INFO too many errors errors=3"},
	}, {
		name:   "session hangs up after a command",
		steps:  []step{{"", 220}, {"EHLO client.example", 250}, {"MAIL FROM:<hangup@example.test>", 250}, {"", 0}},
		events: []string{"new", "hello client.example", "close"},
	}, {
		name:   "client goes away",
		steps:  []step{{"", 220}, {"EHLO client.example", 250}},
		events: []string{"new", "hello client.example", "close"},
		logs:   []string{"DEBUG client went away"},
	}, {
		name:   "command timeout",
		opts:   Options{CommandTimeout: 200 * time.Millisecond},
		steps:  []step{{"", 220}, {"", 421}, {"", 0}},
		events: []string{"new", "close"},
		logs:   []string{"INFO timeout"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			logs := &lineLog{}
			b := c.backend
			b.ev = &events{}
			c.opts.Hostname = "mx.example.test"
			c.opts.TLS = testTLSConfig(t)
			srv := New(&b, slog.New(logs), c.opts)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln, Listener{Mode: c.mode})
			defer srv.Shutdown(context.Background())
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			if c.tls {
				nc = tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
			}
			cl := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
			for _, s := range c.steps {
				if s.send != "" {
					if !strings.HasSuffix(s.send, "\n") {
						s.send += "\r\n"
					}
					cl.send(s.send)
				}
				if s.code == 0 {
					if !cl.closed() {
						t.Fatalf("after %q: connection still open", s.send)
					}
					continue
				}
				if code, text := cl.reply(); code != s.code {
					t.Fatalf("after %q: got %d %q, want %d", s.send, code, text, s.code)
				}
			}
			nc.Close()
			waitConns(t, srv)
			if got := strings.Join(b.ev.get(), ", "); got != strings.Join(c.events, ", ") {
				t.Errorf("events %q, want %q", got, strings.Join(c.events, ", "))
			}
			if got := strings.Join(logs.get(), "\n"); got != strings.Join(c.logs, "\n") {
				t.Errorf("log:\n%s\nwant:\n%s", got, strings.Join(c.logs, "\n"))
			}
		})
	}
}

// waitConns waits until srv has no connection left.
func waitConns(t *testing.T, srv *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Conns() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("connection not closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A connection busy with a command when Shutdown comes finishes it, then
// gets 421 and is closed.
func TestServeShutdownWhileBusy(t *testing.T) {
	var srv *Server
	inMail := make(chan struct{})
	b := &scriptBackend{ev: &events{}, mail: func(string) {
		close(inMail)
		// Wait until Shutdown has told the connection to stop.
		for {
			srv.mu.Lock()
			closing := false
			for c := range srv.conns {
				c.mu.Lock()
				closing = c.closing
				c.mu.Unlock()
			}
			srv.mu.Unlock()
			if closing {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}}
	srv = New(b, slog.New(slog.DiscardHandler), Options{Hostname: "mx.example.test"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln, Listener{Mode: ModeMTA})
	c := dial(t, ln.Addr().String())
	c.cmd("EHLO client.example", 250)
	c.send("MAIL FROM:<a@example.test>\r\n")
	<-inMail
	done := make(chan error)
	go func() { done <- srv.Shutdown(context.Background()) }()
	c.expect(250)
	c.expect(421)
	if !c.closed() {
		t.Fatal("connection still open after 421")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b.ev.get(), ", "); got != "new, hello client.example, close" {
		t.Errorf("events %q", got)
	}
}
