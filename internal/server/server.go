// Package server runs an assembled mail server: its SMTP listeners, its
// queue and its background tasks, until the context ends or a listener
// fails; then it stops them in order: the SMTP sessions first (they may
// still be spooling), then the queue and the tasks, which it waits for.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"postern/internal/smtpd"
)

// Listener is one socket the SMTP server serves.
type Listener struct {
	net.Listener
	Name string
	Mode smtpd.Mode
}

// Queue is the delivery loop (the spool's Run).
type Queue interface {
	Run(ctx context.Context) error
}

// Server is the pieces to run.
type Server struct {
	SMTP      *smtpd.Server
	Listeners []Listener
	Queue     Queue
	// Tasks run in the background while the server runs (report
	// senders, admin listeners...); they return when their context ends.
	Tasks []func(ctx context.Context)
	Log   *slog.Logger
	// Serving, when set, is called once everything serves (the start-up
	// banner).
	Serving func()
	// SessionsDone, when set, is called once the SMTP sessions are over,
	// before the queue and the tasks are stopped and waited for (serve
	// restores the default signal handling there, so that a second
	// signal ends the process).
	SessionsDone func()
	// ShutdownTimeout bounds the wait for SMTP sessions to end; 0 means
	// 30 seconds.
	ShutdownTimeout time.Duration
}

// Run serves until ctx ends (nil error) or a listener fails (its error),
// then shuts everything down.
func (s *Server) Run(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var tasks sync.WaitGroup
	for _, task := range s.Tasks {
		tasks.Add(1)
		go func() {
			defer tasks.Done()
			task(ctx)
		}()
	}
	queueDone := make(chan error, 1)
	go func() { queueDone <- s.Queue.Run(ctx) }()
	errc := make(chan error, len(s.Listeners))
	for _, l := range s.Listeners {
		go func() {
			errc <- s.SMTP.Serve(l.Listener, smtpd.Listener{Name: l.Name, Mode: l.Mode})
		}()
	}
	if s.Serving != nil {
		s.Serving()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		s.Log.Error("listener failed", "err", err)
	}
	s.Log.Info("shutting down")
	timeout := s.ShutdownTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.SMTP.Shutdown(sctx)
	if s.SessionsDone != nil {
		s.SessionsDone()
	}
	stop()
	<-queueDone
	tasks.Wait()
	if err != nil && !errors.Is(err, smtpd.ErrServerClosed) {
		return err
	}
	return nil
}
