// Package dnstest runs a real DNS server on loopback for tests, fed with
// zone data, so that code under test resolves through the network path it
// uses in production.
package dnstest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	pdns "postern/internal/dns"
)

// Server is a running DNS server.
type Server struct {
	Addr string // "127.0.0.1:port", UDP and TCP

	mu   sync.RWMutex
	data *zoneData // what Set last gave; replaced whole

	setMu sync.Mutex          // serialises Set, guards keys
	keys  map[string]*zoneKey // name -> its DNSSEC key, kept across Set

	udp *dns.Server
	tcp *dns.Server

	queries    int
	tcpQueries int
}

// Start runs a server with the zone until the test ends.
func Start(t testing.TB, z Zone) *Server {
	t.Helper()
	s, err := Listen(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen runs a server with the zone; Close stops it.
func Listen(z Zone) (*Server, error) {
	s := &Server{}
	if err := s.Set(z); err != nil {
		return nil, err
	}
	pc, ln, err := listenPair()
	if err != nil {
		return nil, err
	}
	s.Addr = ln.Addr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: ln, Handler: s}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	return s, nil
}

// listenPair opens UDP and TCP on the same loopback port. The port the
// system picks for UDP may be taken for TCP, so it tries a few ports.
func listenPair() (net.PacketConn, net.Listener, error) {
	var last error
	for try := 0; try < 20; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		last = err
	}
	return nil, nil, last
}

// Close stops the server.
func (s *Server) Close() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

// Resolver returns a resolver that asks only this server.
func (s *Server) Resolver() *pdns.Client {
	return pdns.New(pdns.Options{Servers: []string{s.Addr}, Timeout: 2 * time.Second})
}

// Queries returns how many queries the server has received so far.
func (s *Server) Queries() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.queries
}

// TCPQueries returns how many of the queries came over TCP.
func (s *Server) TCPQueries() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tcpQueries
}

// ServeDNS answers one query from the zone, following CNAMEs inside it.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	s.mu.Lock()
	s.queries++
	if !udp {
		s.tcpQueries++
	}
	s.mu.Unlock()
	m, wait := s.reply(req, udp)
	if wait > 0 {
		time.Sleep(wait)
	}
	if m == nil {
		return // TIMEOUT
	}
	if udp {
		m.Truncate(dns.MinMsgSize)
		if opt := req.IsEdns0(); opt != nil {
			m.Truncate(int(opt.UDPSize()))
		}
	}
	w.WriteMsg(m)
}
