package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Server accepts SMTP connections on any number of listeners.
type Server struct {
	opts    Options
	backend Backend
	log     *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   atomic.Bool
	wg        sync.WaitGroup
	nextID    atomic.Uint64
	idPrefix  string

	askOnce sync.Once
	askTLS  *tls.Config // opts.TLS asking for a client certificate (tlsFor)
}

// New returns a server; call Serve for each listener.
func New(b Backend, log *slog.Logger, opts Options) *Server {
	opts.withDefaults()
	return &Server{
		opts: opts, backend: b, log: log,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		idPrefix:  fmt.Sprintf("%x", time.Now().Unix()&0xffffff),
	}
}

// Listener names a listening socket and says what it is for.
type Listener struct {
	Name string
	Mode Mode
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("smtpd: server closed")

// Serve accepts connections on ln until Shutdown. For ModeSMTPS the
// connection is wrapped in TLS (implicit TLS, RFC 8314).
func (s *Server) Serve(ln net.Listener, l Listener) error {
	if l.Mode == ModeSMTPS && s.opts.TLS == nil {
		return errors.New("smtpd: smtps listener needs a TLS configuration")
	}
	if l.Name == "" {
		l.Name = l.Mode.String()
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed", "listener", l.Name, "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(nc, l)
		if c == nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

func (s *Server) newConn(nc net.Conn, l Listener) *conn {
	c := &conn{
		srv:  s,
		nc:   nc,
		mode: l.Mode,
		info: ConnInfo{
			ID:       fmt.Sprintf("%s%06x", s.idPrefix, s.nextID.Add(1)),
			Remote:   addrPort(nc.RemoteAddr()),
			Local:    addrPort(nc.LocalAddr()),
			Listener: l.Name,
			Mode:     l.Mode,
			PeerUID:  peerUID(nc),
		},
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting, lets connections finish their current
// command, and closes idle ones with 421. When ctx ends first, the
// remaining connections are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.shutdown()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// Conns returns the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func addrPort(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		ap := v.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// handshake runs the TLS server handshake on nc within the TLS timeout.
func (s *Server) handshake(nc net.Conn) (*tls.Conn, error) {
	return s.handshakeWith(nc, s.tlsFor(s.opts.RequestClientCert))
}

// handshakeWith is handshake with a configuration of the client's.
func (s *Server) handshakeWith(nc net.Conn, conf *tls.Config) (*tls.Conn, error) {
	tc := tls.Server(nc, conf)
	tc.SetDeadline(time.Now().Add(s.opts.TLSTimeout))
	err := tc.Handshake()
	tc.SetDeadline(time.Time{})
	if err != nil {
		return nil, err
	}
	return tc, nil
}
