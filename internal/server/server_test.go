package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/smtp"
	"postern/internal/smtpd"
)

// refuse turns every connection away with 421.
type refuse struct{}

func (refuse) NewSession(context.Context, smtpd.ConnInfo) (smtpd.Session, *smtp.Reply) {
	return nil, &smtp.Reply{Code: 421, Enhanced: "4.3.2", Text: "not now"}
}

// queue records that it ran and stopped.
type queue struct{ stopped atomic.Bool }

func (q *queue) Run(ctx context.Context) error {
	<-ctx.Done()
	q.stopped.Store(true)
	return nil
}

func newServer(t *testing.T) (*Server, net.Listener, *queue) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	q := &queue{}
	return &Server{
		SMTP:      smtpd.New(refuse{}, log, smtpd.Options{Hostname: "mx.example.test"}),
		Listeners: []Listener{{Listener: ln, Name: "mta", Mode: smtpd.ModeMTA}},
		Queue:     q,
		Log:       log,
	}, ln, q
}

// The server serves until its context ends, then stops the sessions,
// then the queue and the tasks, in that order.
func TestRunUntilCancelled(t *testing.T) {
	s, ln, q := newServer(t)
	var order []string
	taskDone := make(chan struct{})
	s.Tasks = []func(ctx context.Context){func(ctx context.Context) { <-ctx.Done(); close(taskDone) }}
	s.SessionsDone = func() { order = append(order, "sessions") }
	served := make(chan struct{})
	s.Serving = func() { close(served) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-served
	c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	c.Close()
	if !strings.HasPrefix(string(buf[:n]), "421") {
		t.Errorf("greeting %q", buf[:n])
	}
	if q.stopped.Load() {
		t.Error("queue stopped while serving")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-taskDone
	if !q.stopped.Load() || len(order) != 1 {
		t.Errorf("queue stopped %v, order %q", q.stopped.Load(), order)
	}
}

// A listener that fails ends the run with its error.
func TestRunListenerFails(t *testing.T) {
	s, ln, q := newServer(t)
	s.Serving = func() { ln.Close() }
	err := s.Run(context.Background())
	if err == nil || errors.Is(err, smtpd.ErrServerClosed) || !q.stopped.Load() {
		t.Errorf("err %v, queue stopped %v", err, q.stopped.Load())
	}
}

func TestConfiguredAddrs(t *testing.T) {
	got := ConfiguredAddrs([]string{"127.0.0.1:25", "[::ffff:192.0.2.1]:25", "mx.example.test:25", "bad"})
	if len(got) != 2 || got[0].String() != "127.0.0.1" || got[1].String() != "192.0.2.1" {
		t.Errorf("%v", got)
	}
	if all := ConfiguredAddrs([]string{":25"}); len(all) != len(InterfaceAddrs()) {
		t.Errorf("wildcard: %v", all)
	}
}
