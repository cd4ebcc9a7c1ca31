package dns

import (
	"math"
	"net"
	"time"

	"github.com/miekg/dns"
)

// maxCNAME bounds the CNAME chain followed in one answer.
const maxCNAME = 8

// answer is what a reply says about one question.
type answer struct {
	rrs      []dns.RR      // records of the asked type, at the end of the CNAME chain
	notFound bool          // NXDOMAIN or NODATA
	ttl      time.Duration // how long the answer may be kept; 0: do not keep
	owner    string        // the name at the end of the CNAME chain, canonical
	secure   bool          // DNSSEC: AD set by a trusted server (queryDNSSEC)
}

// readAnswer extracts the records of type qtype for fqdn from a NOERROR
// or NXDOMAIN reply, following CNAMEs in the answer section (at most
// maxCNAME, no loops). Records for other names and classes are ignored.
// name is the caller's name, for errors.
func readAnswer(m *dns.Msg, name, fqdn string, qtype uint16) (answer, error) {
	owner := dns.CanonicalName(fqdn)
	ttl := uint32(math.MaxUint32)
	seen := map[string]bool{owner: true}
	for hops := 0; ; hops++ {
		var found []dns.RR
		var cname *dns.CNAME
		for _, rr := range m.Answer {
			h := rr.Header()
			if h.Class != dns.ClassINET || dns.CanonicalName(h.Name) != owner {
				continue
			}
			if h.Rrtype == qtype {
				found = append(found, rr)
			} else if c, ok := rr.(*dns.CNAME); ok && cname == nil {
				cname = c
			}
		}
		if len(found) > 0 {
			for _, rr := range found {
				ttl = min(ttl, rrTTL(rr.Header().Ttl))
			}
			return answer{rrs: found, ttl: seconds(ttl), owner: owner}, nil
		}
		if cname == nil {
			break
		}
		ttl = min(ttl, rrTTL(cname.Hdr.Ttl))
		next := dns.CanonicalName(cname.Target)
		if seen[next] || hops >= maxCNAME {
			// A loop is what recursive servers report as SERVFAIL:
			// a temporary failure.
			return answer{}, &net.DNSError{Err: errCNAMELoop, Name: name, IsTemporary: true}
		}
		seen[next] = true
		owner = next
	}
	// RFC 2308 2.1, 2.2: NXDOMAIN, or NOERROR without the asked data
	// (NODATA): the name or the record does not exist.
	neg := uint32(0)
	if soa := authoritySOA(m); soa != nil {
		// RFC 2308 5: a negative answer lives for the smaller of the
		// SOA record's TTL and its MINIMUM field.
		neg = min(rrTTL(soa.Hdr.Ttl), rrTTL(soa.Minttl))
	}
	// RFC 2308 5: without an SOA a negative answer should not be cached.
	return answer{notFound: true, ttl: seconds(min(ttl, neg)), owner: owner}, nil
}

func authoritySOA(m *dns.Msg) *dns.SOA {
	for _, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok && soa.Hdr.Class == dns.ClassINET {
			return soa
		}
	}
	return nil
}

// rrTTL applies RFC 2181 8: a TTL with the top bit set counts as zero.
func rrTTL(t uint32) uint32 {
	if t > math.MaxInt32 {
		return 0
	}
	return t
}

func seconds(t uint32) time.Duration {
	return time.Duration(t) * time.Second
}
