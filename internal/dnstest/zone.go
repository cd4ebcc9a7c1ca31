package dnstest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Zone maps "name TYPE" (for example "example.org. TXT" or "mx.example.org A")
// to the record data. Names are case-insensitive; the trailing dot is
// optional. TXT data is the plain string (split into 255-byte pieces when
// longer); other types take zone-file RDATA ("10 mx.example.org.", or
// for TLSA "3 1 1 <hex>", see TLSA).
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
//   - "name DNSSEC": {"secure"}, {"insecure"} or {"bogus"} sets the
//     DNSSEC status of the name and of every name below it that has no
//     status of its own, as a validating resolver would see it: secure
//     answers carry the AD bit and, when the query has the DO bit, the
//     RRSIG records of a key made for the name (the zone apex, which also
//     answers DNSKEY queries; see Server.Key); insecure answers carry
//     neither; bogus names answer SERVFAIL, unless the query has the CD
//     bit, which gets the data with signatures that do not verify and no
//     AD. Further values name the record types the status is for
//     ({"bogus", "TLSA"}): queries for other types get the status of the
//     enclosing name. Names without a status anywhere above them are
//     insecure, so zones without DNSSEC entries answer as before.
//
// Negative answers (NXDOMAIN and no data) carry in their authority section
// the SOA record of the closest enclosing name that has one in the zone
// ("example.test SOA": {"ns.example.test. hostmaster.example.test. 1 60 60 60 30"}),
// else a root SOA with TTL and MINIMUM 60. Only an SOA from the zone is
// signed; there are no NSEC records (the client believes the AD bit, it
// does not validate).
type Zone map[string][]string

// zoneData is a Zone read into what the server answers from.
type zoneData struct {
	rrs   map[string]map[uint16][]dns.RR // name -> type -> records
	fail  map[string]string              // name -> "SERVFAIL" | "REFUSED" | "TIMEOUT"
	failT map[string]map[uint16]bool     // name -> the only types that fail; nil: all
	trunc map[string]map[uint16]bool     // name -> types truncated over UDP; empty map: all
	delay map[string]time.Duration       // name -> wait before answering
	ttls  map[string]uint32              // name -> TTL of its records
	names map[string]bool                // every name that exists (for NODATA vs NXDOMAIN)
	sec   map[string]secRule             // name -> DNSSEC status
	sigs  map[string]map[uint16][]dns.RR // name -> type -> RRSIGs of that RRset
}

// zoneRecord is one record of a Zone before it is parsed.
type zoneRecord struct{ name, typ, value string }

func newZoneData() *zoneData {
	return &zoneData{
		rrs:   map[string]map[uint16][]dns.RR{},
		fail:  map[string]string{},
		failT: map[string]map[uint16]bool{},
		trunc: map[string]map[uint16]bool{},
		delay: map[string]time.Duration{},
		ttls:  map[string]uint32{},
		names: map[string]bool{},
		sec:   map[string]secRule{},
		sigs:  map[string]map[uint16][]dns.RR{},
	}
}

// Set replaces the zone data. The keys of names made secure or bogus
// are kept from one Set to the next.
func (s *Server) Set(z Zone) error {
	d, err := parseZone(z)
	if err != nil {
		return err
	}
	s.setMu.Lock()
	defer s.setMu.Unlock()
	if err := s.signZone(d); err != nil {
		return err
	}
	s.mu.Lock()
	s.data = d
	s.mu.Unlock()
	return nil
}

// parseZone reads z: first the pseudo types, which the records depend
// on (TTL), then the records.
func parseZone(z Zone) (*zoneData, error) {
	d := newZoneData()
	var recs []zoneRecord
	for key, values := range z {
		f := strings.Fields(key)
		if len(f) != 2 {
			return nil, fmt.Errorf("dnstest: zone key %q: want \"name TYPE\"", key)
		}
		name := dns.CanonicalName(f[0])
		typ := strings.ToUpper(f[1])
		d.addName(name)
		pseudo, err := d.setPseudo(name, typ, values)
		if err != nil {
			return nil, fmt.Errorf("dnstest: zone key %q: %w", key, err)
		}
		if pseudo {
			continue
		}
		if _, ok := dns.StringToType[typ]; !ok {
			return nil, fmt.Errorf("dnstest: zone key %q: unknown type", key)
		}
		for _, v := range values {
			recs = append(recs, zoneRecord{name, typ, v})
		}
	}
	for _, r := range recs {
		if err := d.addRecord(r); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// addName records that name exists, and that the names above it exist
// too (as empty non-terminals when they have no records).
func (d *zoneData) addName(name string) {
	d.names[name] = true
	for p := name; ; {
		i := strings.IndexByte(p, '.')
		if i < 0 || i == len(p)-1 {
			break
		}
		p = p[i+1:]
		if _, ok := d.names[p]; !ok {
			d.names[p] = false // empty non-terminal: exists, no records
		}
	}
}

// setPseudo applies a pseudo type; it reports false when typ is not one.
func (d *zoneData) setPseudo(name, typ string, values []string) (bool, error) {
	switch typ {
	case "SERVFAIL", "REFUSED", "TIMEOUT":
		d.fail[name] = typ
		if ts := types(values); ts != nil {
			d.failT[name] = ts
		}
	case "TRUNCATE":
		d.trunc[name] = types(values)
		if d.trunc[name] == nil {
			d.trunc[name] = map[uint16]bool{}
		}
	case "DELAY":
		if len(values) != 1 {
			return true, fmt.Errorf("want one duration")
		}
		w, err := time.ParseDuration(values[0])
		if err != nil {
			return true, err
		}
		d.delay[name] = w
	case "TTL":
		if len(values) != 1 {
			return true, fmt.Errorf("want one TTL")
		}
		n, err := strconv.ParseUint(values[0], 10, 32)
		if err != nil {
			return true, err
		}
		d.ttls[name] = uint32(n)
	case "DNSSEC":
		rule, err := parseSecRule(values)
		if err != nil {
			return true, err
		}
		d.sec[name] = rule
	default:
		return false, nil
	}
	return true, nil
}

// addRecord parses one record into the zone.
func (d *zoneData) addRecord(r zoneRecord) error {
	ttl, ok := d.ttls[r.name]
	if !ok {
		ttl = 300
	}
	rr, err := makeRR(r.name, r.typ, r.value, ttl)
	if err != nil {
		return fmt.Errorf("dnstest: %s %s %q: %w", r.name, r.typ, r.value, err)
	}
	d.add(rr)
	return nil
}

// add puts rr in the zone under its owner and type.
func (d *zoneData) add(rr dns.RR) {
	h := rr.Header()
	if d.rrs[h.Name] == nil {
		d.rrs[h.Name] = map[uint16][]dns.RR{}
	}
	d.rrs[h.Name][h.Rrtype] = append(d.rrs[h.Name][h.Rrtype], rr)
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
