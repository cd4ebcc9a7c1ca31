package dnstest

import (
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxHops bounds the CNAME chain the server follows in one answer.
const maxHops = 16

// reply builds the answer to req, nil for no answer, and how long to
// wait before sending it.
func (s *Server) reply(req *dns.Msg, udp bool) (*dns.Msg, time.Duration) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.data
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m, 0
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	wait := d.delay[name]
	if only, ok := d.trunc[name]; ok && udp && (len(only) == 0 || only[q.Qtype]) {
		m.Truncated = true
		return m, wait
	}
	secure, answered := d.resolve(m, name, q.Qtype, req.CheckingDisabled)
	if !answered {
		return nil, wait // TIMEOUT
	}
	d.addDNSSEC(m, req, secure)
	return m, wait
}

// resolve fills m with the answer for name and qtype, following CNAMEs
// inside the zone. It reports whether every name on the way is secure,
// and false for answered when the query is to go unanswered (TIMEOUT).
// cd is the query's CD bit: bogus data is then given, not SERVFAIL.
func (d *zoneData) resolve(m *dns.Msg, name string, qtype uint16, cd bool) (secure, answered bool) {
	secure = true
	for hops := 0; hops < maxHops; hops++ {
		if rcode, ok := d.failure(name, qtype, cd); ok {
			if rcode < 0 {
				return false, false
			}
			m.Answer = nil
			m.Rcode = rcode
			return false, true
		}
		if st, _ := d.status(name, qtype); st != secSecure {
			secure = false
		}
		recs := d.rrs[name]
		if rrs := recs[qtype]; len(rrs) > 0 {
			m.Answer = append(m.Answer, rrs...)
			break
		}
		if c := recs[dns.TypeCNAME]; len(c) > 0 && qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, c[0])
			name = dns.CanonicalName(c[0].(*dns.CNAME).Target)
			continue
		}
		if _, exists := d.names[name]; !exists {
			m.Rcode = dns.RcodeNameError
		}
		break
	}
	if len(m.Answer) == 0 || m.Answer[len(m.Answer)-1].Header().Rrtype != qtype {
		// RFC 2308 3: a negative answer carries the zone's SOA.
		m.Ns = []dns.RR{d.soa(name)}
	}
	return secure, true
}

// failure says how a query for name and qtype fails, if it does: the
// reply code, or -1 for no reply. Bogus data fails with SERVFAIL unless
// cd is set.
func (d *zoneData) failure(name string, qtype uint16, cd bool) (int, bool) {
	failure := d.fail[name]
	if only := d.failT[name]; only != nil && !only[qtype] {
		failure = ""
	}
	switch failure {
	case "TIMEOUT":
		return -1, true
	case "SERVFAIL":
		return dns.RcodeServerFailure, true
	case "REFUSED":
		return dns.RcodeRefused, true
	}
	if st, _ := d.status(name, qtype); st == secBogus && !cd {
		// RFC 4035 5.5: a validating resolver answers SERVFAIL for data
		// that fails validation.
		return dns.RcodeServerFailure, true
	}
	return 0, false
}

// soa returns the SOA of the closest enclosing name that has one, else a
// root SOA.
func (d *zoneData) soa(name string) dns.RR {
	for p := name; ; {
		if rrs := d.rrs[p][dns.TypeSOA]; len(rrs) > 0 {
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
