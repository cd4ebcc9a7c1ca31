// Package dnstest runs a real DNS server on loopback for tests, fed with
// zone data, so that code under test resolves through the network path it
// uses in production.
package dnstest

import (
	"fmt"
	"net"
	"strconv"
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
// Pseudo types change the answer for a name instead of adding records:
//   - "name SERVFAIL" answers SERVFAIL, "name REFUSED" answers REFUSED, and
//     "name TIMEOUT" never answers. When the values name record types
//     ("name TIMEOUT": {"SPF", "A"}), only queries for those types fail that
//     way; queries for other types get the name's records as usual.
//   - "name TRUNCATE" answers over UDP with the TC bit and no records, so
//     that the client must ask again over TCP; the values may name types
//     as above.
//   - "name DELAY": {"200ms"} waits that long before answering.
//   - "name TTL": {"5"} gives the name's records that TTL in seconds
//     (default 300).
//
// Negative answers (NXDOMAIN and no data) carry in their authority section
// the SOA record of the closest enclosing name that has one in the zone
// ("example.test SOA": {"ns.example.test. hostmaster.example.test. 1 60 60 60 30"}),
// else a root SOA with TTL and MINIMUM 60.
type Zone map[string][]string

// Server is a running DNS server.
type Server struct {
	Addr string // "127.0.0.1:port", UDP and TCP

	mu    sync.RWMutex
	zone  map[string]map[uint16][]dns.RR // name -> type -> records
	fail  map[string]string              // name -> "SERVFAIL" | "REFUSED" | "TIMEOUT"
	failT map[string]map[uint16]bool     // name -> the only types that fail; nil: all
	trunc map[string]map[uint16]bool     // name -> types truncated over UDP; empty map: all
	delay map[string]time.Duration       // name -> wait before answering
	names map[string]bool                // every name that exists (for NODATA vs NXDOMAIN)
	udp   *dns.Server
	tcp   *dns.Server

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

// Set replaces the zone data.
func (s *Server) Set(z Zone) error {
	zone := map[string]map[uint16][]dns.RR{}
	fail := map[string]string{}
	failT := map[string]map[uint16]bool{}
	trunc := map[string]map[uint16]bool{}
	delay := map[string]time.Duration{}
	ttls := map[string]uint32{}
	names := map[string]bool{}
	type rec struct{ name, typ, value string }
	var recs []rec
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
		switch typ {
		case "SERVFAIL", "REFUSED", "TIMEOUT":
			fail[name] = typ
			if ts := types(values); ts != nil {
				failT[name] = ts
			}
			continue
		case "TRUNCATE":
			trunc[name] = types(values)
			if trunc[name] == nil {
				trunc[name] = map[uint16]bool{}
			}
			continue
		case "DELAY":
			if len(values) != 1 {
				return fmt.Errorf("dnstest: zone key %q: want one duration", key)
			}
			d, err := time.ParseDuration(values[0])
			if err != nil {
				return fmt.Errorf("dnstest: zone key %q: %w", key, err)
			}
			delay[name] = d
			continue
		case "TTL":
			if len(values) != 1 {
				return fmt.Errorf("dnstest: zone key %q: want one TTL", key)
			}
			n, err := strconv.ParseUint(values[0], 10, 32)
			if err != nil {
				return fmt.Errorf("dnstest: zone key %q: %w", key, err)
			}
			ttls[name] = uint32(n)
			continue
		}
		if _, ok := dns.StringToType[typ]; !ok {
			return fmt.Errorf("dnstest: zone key %q: unknown type", key)
		}
		for _, v := range values {
			recs = append(recs, rec{name, typ, v})
		}
	}
	for _, r := range recs {
		ttl, ok := ttls[r.name]
		if !ok {
			ttl = 300
		}
		rr, err := makeRR(r.name, r.typ, r.value, ttl)
		if err != nil {
			return fmt.Errorf("dnstest: %s %s %q: %w", r.name, r.typ, r.value, err)
		}
		t := dns.StringToType[r.typ]
		if zone[r.name] == nil {
			zone[r.name] = map[uint16][]dns.RR{}
		}
		zone[r.name][t] = append(zone[r.name][t], rr)
	}
	s.mu.Lock()
	s.zone, s.fail, s.failT, s.trunc, s.delay, s.names = zone, fail, failT, trunc, delay, names
	s.mu.Unlock()
	return nil
}

// types reads record type names; nil when there are none.
func types(values []string) map[uint16]bool {
	var ts map[uint16]bool
	for _, v := range values {
		if t, ok := dns.StringToType[strings.ToUpper(v)]; ok {
			if ts == nil {
				ts = map[uint16]bool{}
			}
			ts[t] = true
		}
	}
	return ts
}

func makeRR(name, typ, v string, ttl uint32) (dns.RR, error) {
	hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: ttl}
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
	return dns.NewRR(fmt.Sprintf("%s %d IN %s %s", name, ttl, typ, v))
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

// reply builds the answer to req, nil for no answer, and how long to
// wait before sending it.
func (s *Server) reply(req *dns.Msg, udp bool) (*dns.Msg, time.Duration) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m, 0
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	wait := s.delay[name]
	if only, ok := s.trunc[name]; ok && udp && (len(only) == 0 || only[q.Qtype]) {
		m.Truncated = true
		return m, wait
	}
	for hops := 0; hops < 16; hops++ {
		failure := s.fail[name]
		if only := s.failT[name]; only != nil && !only[q.Qtype] {
			failure = ""
		}
		switch failure {
		case "TIMEOUT":
			return nil, wait
		case "SERVFAIL":
			m.Answer = nil
			m.Rcode = dns.RcodeServerFailure
			return m, wait
		case "REFUSED":
			m.Answer = nil
			m.Rcode = dns.RcodeRefused
			return m, wait
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
		if _, exists := s.names[name]; !exists {
			m.Rcode = dns.RcodeNameError
		}
		break
	}
	if len(m.Answer) == 0 || m.Answer[len(m.Answer)-1].Header().Rrtype != q.Qtype {
		// RFC 2308 3: a negative answer carries the zone's SOA.
		m.Ns = []dns.RR{s.soa(name)}
	}
	return m, wait
}

// soa returns the SOA of the closest enclosing name that has one, else a
// root SOA.
func (s *Server) soa(name string) dns.RR {
	for p := name; ; {
		if rrs := s.zone[p][dns.TypeSOA]; len(rrs) > 0 {
			return rrs[0]
		}
		i := strings.IndexByte(p, '.')
		if i < 0 || i == len(p)-1 {
			break
		}
		p = p[i+1:]
	}
	return &dns.SOA{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns: "ns.test.", Mbox: "hostmaster.test.", Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60}
}
