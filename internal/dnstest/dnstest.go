// Package dnstest runs a real DNS server on loopback for tests, fed with
// zone data, so that code under test resolves through the network path it
// uses in production.
package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	pdns "postern/internal/dns"
)

// Zone maps "name TYPE" (for example "example.org. TXT" or "mx.example.org A")
// to the record data. Names are case-insensitive; the trailing dot is
// optional. TXT data is the plain string (split into 255-byte pieces when
// longer); other types take zone-file RDATA ("10 mx.example.org.").
//
// Two pseudo types change the answer for a name instead of adding records:
// "name SERVFAIL" (any value) answers SERVFAIL, and "name TIMEOUT" never
// answers. When the values of either name record types ("name TIMEOUT":
// {"SPF", "A"}), only queries for those types fail that way; queries for
// other types get the name's records as usual.
type Zone map[string][]string

// Server is a running DNS server.
type Server struct {
	Addr string // "127.0.0.1:port", UDP and TCP

	mu    sync.RWMutex
	zone  map[string]map[uint16][]dns.RR // name -> type -> records
	fail  map[string]string              // name -> "SERVFAIL" | "TIMEOUT"
	failT map[string]map[uint16]bool     // name -> the only types that fail; nil: all
	names map[string]bool                // every name that exists (for NODATA vs NXDOMAIN)
	udp   *dns.Server
	tcp   *dns.Server

	queries int
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
func (s *Server) Resolver() *net.Resolver {
	return pdns.New(pdns.Options{Servers: []string{s.Addr}, Timeout: 2 * time.Second})
}

// Queries returns how many queries the server has answered so far.
func (s *Server) Queries() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.queries
}

// Set replaces the zone data.
func (s *Server) Set(z Zone) error {
	zone := map[string]map[uint16][]dns.RR{}
	fail := map[string]string{}
	failT := map[string]map[uint16]bool{}
	names := map[string]bool{}
	for key, values := range z {
		f := strings.Fields(key)
		if len(f) != 2 {
			return fmt.Errorf("dnstest: zone key %q: want \"name TYPE\"", key)
		}
		name := dns.CanonicalName(f[0])
		typ := strings.ToUpper(f[1])
		names[name] = true
		for p := name; ; {
			i := strings.IndexByte(p, '.')
			if i < 0 || i == len(p)-1 {
				break
			}
			p = p[i+1:]
			if _, ok := names[p]; !ok {
				names[p] = false // empty non-terminal: exists, no records
			}
		}
		if typ == "SERVFAIL" || typ == "TIMEOUT" {
			fail[name] = typ
			for _, v := range values {
				if t, ok := dns.StringToType[strings.ToUpper(v)]; ok {
					if failT[name] == nil {
						failT[name] = map[uint16]bool{}
					}
					failT[name][t] = true
				}
			}
			continue
		}
		t, ok := dns.StringToType[typ]
		if !ok {
			return fmt.Errorf("dnstest: zone key %q: unknown type", key)
		}
		if zone[name] == nil {
			zone[name] = map[uint16][]dns.RR{}
		}
		for _, v := range values {
			rr, err := makeRR(name, typ, v)
			if err != nil {
				return fmt.Errorf("dnstest: %s %s %q: %w", name, typ, v, err)
			}
			zone[name][t] = append(zone[name][t], rr)
		}
	}
	s.mu.Lock()
	s.zone, s.fail, s.failT, s.names = zone, fail, failT, names
	s.mu.Unlock()
	return nil
}

func makeRR(name, typ, v string) (dns.RR, error) {
	hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: 300}
	if typ == "TXT" || typ == "SPF" {
		var parts []string
		for len(v) > 255 {
			parts = append(parts, v[:255])
			v = v[255:]
		}
		parts = append(parts, v)
		if typ == "SPF" {
			hdr.Rrtype = dns.TypeSPF
			return &dns.SPF{Hdr: hdr, Txt: parts}, nil
		}
		hdr.Rrtype = dns.TypeTXT
		return &dns.TXT{Hdr: hdr, Txt: parts}, nil
	}
	return dns.NewRR(fmt.Sprintf("%s 300 IN %s %s", name, typ, v))
}

// ServeDNS answers one query from the zone, following CNAMEs inside it.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.mu.Lock()
	s.queries++
	s.mu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	for hops := 0; hops < 8; hops++ {
		failure := s.fail[name]
		if only := s.failT[name]; only != nil && !only[q.Qtype] {
			failure = ""
		}
		switch failure {
		case "TIMEOUT":
			return
		case "SERVFAIL":
			m.Rcode = dns.RcodeServerFailure
			w.WriteMsg(m)
			return
		}
		recs := s.zone[name]
		if rrs := recs[q.Qtype]; len(rrs) > 0 {
			m.Answer = append(m.Answer, rrs...)
			break
		}
		if c := recs[dns.TypeCNAME]; len(c) > 0 && q.Qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, c[0])
			name = dns.CanonicalName(c[0].(*dns.CNAME).Target)
			continue
		}
		if _, exists := s.names[name]; !exists && len(m.Answer) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		break
	}
	if m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0 {
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
			Ns: "ns.test.", Mbox: "hostmaster.test.", Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60}}
	}
	if w.LocalAddr().Network() == "udp" {
		m.Truncate(dns.MinMsgSize)
		if opt := req.IsEdns0(); opt != nil {
			m.Truncate(int(opt.UDPSize()))
		}
	}
	w.WriteMsg(m)
}
