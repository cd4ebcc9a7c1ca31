package dnstest

import (
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The server plays a validating resolver: it does not delegate or build
// NSEC chains, it says what a resolver that checked the signatures would
// say. A name's DNSSEC status (Zone's "DNSSEC" pseudo type) decides the
// AD bit and SERVFAIL; the RRSIG records are real signatures (ECDSA
// P-256, RFC 6605) so that replies have the size and shape of signed
// ones, and so that a test may check them against Server.Key.

// secStatus is a DNSSEC status as a validating resolver sees it.
type secStatus int

const (
	secInsecure secStatus = iota // unsigned, or below an insecure delegation
	secSecure                    // validated: AD
	secBogus                     // validation failed: SERVFAIL
)

// secRule is a name's "DNSSEC" entry.
type secRule struct {
	status secStatus
	types  map[uint16]bool // the only types it is for; nil: all
}

// sigValidity is how long the signatures made by Set stay valid.
const sigValidity = 30 * 24 * time.Hour

// zoneKey is the signing key of a secure or bogus name.
type zoneKey struct {
	dnskey *dns.DNSKEY
	priv   crypto.Signer
}

// parseSecRule reads the values of a "DNSSEC" entry.
func parseSecRule(values []string) (secRule, error) {
	if len(values) == 0 {
		return secRule{}, fmt.Errorf("want secure, insecure or bogus")
	}
	var r secRule
	switch strings.ToLower(values[0]) {
	case "secure":
		r.status = secSecure
	case "insecure":
		r.status = secInsecure
	case "bogus":
		r.status = secBogus
	default:
		return secRule{}, fmt.Errorf("DNSSEC status %q: want secure, insecure or bogus", values[0])
	}
	for _, v := range values[1:] {
		if _, ok := dns.StringToType[strings.ToUpper(v)]; !ok {
			return secRule{}, fmt.Errorf("DNSSEC status for type %q: unknown type", v)
		}
	}
	r.types = types(values[1:])
	return r, nil
}

// status is the DNSSEC status of the answer for name and qtype: that of
// the closest enclosing name with an entry for qtype, and that name (the
// signer); insecure and "" when there is none.
func (d *zoneData) status(name string, qtype uint16) (secStatus, string) {
	for p := name; ; {
		if r, ok := d.sec[p]; ok && (r.types == nil || r.types[qtype]) {
			return r.status, p
		}
		if p == "." {
			return secInsecure, ""
		}
		i := strings.IndexByte(p, '.')
		if i < 0 || i == len(p)-1 {
			p = "."
		} else {
			p = p[i+1:]
		}
	}
}

// signZone gives every secure and bogus name a key (kept from earlier
// zones), publishes the keys of the secure ones as DNSKEY records, and
// signs each RRset of the zone with the key of its signer; the
// signatures of bogus RRsets are spoilt. It runs under s.setMu.
func (s *Server) signZone(d *zoneData) error {
	for name, r := range d.sec {
		if r.status == secInsecure {
			continue
		}
		k, err := s.zoneKey(name)
		if err != nil {
			return err
		}
		if r.status == secSecure && len(d.rrs[name][dns.TypeDNSKEY]) == 0 {
			d.add(dns.Copy(k.dnskey))
		}
	}
	now := time.Now()
	for name, byType := range d.rrs {
		for t, rrs := range byType {
			st, signer := d.status(name, t)
			if st == secInsecure {
				continue
			}
			sig, err := s.keys[signer].sign(rrs, now, st == secBogus)
			if err != nil {
				return fmt.Errorf("dnstest: signing %s %s: %w", name, dns.TypeToString[t], err)
			}
			if d.sigs[name] == nil {
				d.sigs[name] = map[uint16][]dns.RR{}
			}
			d.sigs[name][t] = []dns.RR{sig}
		}
	}
	return nil
}

// zoneKey returns the key of name, made on first use.
func (s *Server) zoneKey(name string) (*zoneKey, error) {
	if k := s.keys[name]; k != nil {
		return k, nil
	}
	dk := &dns.DNSKEY{
		Hdr:   dns.RR_Header{Name: name, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 300},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256,
	}
	priv, err := dk.Generate(256)
	if err != nil {
		return nil, fmt.Errorf("dnstest: key for %s: %w", name, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("dnstest: key for %s cannot sign", name)
	}
	if s.keys == nil {
		s.keys = map[string]*zoneKey{}
	}
	k := &zoneKey{dnskey: dk, priv: signer}
	s.keys[name] = k
	return k, nil
}

// sign makes the RRSIG of rrs, valid from an hour before now for
// sigValidity; with spoil set its signature is altered so that it no
// longer verifies.
func (k *zoneKey) sign(rrs []dns.RR, now time.Time, spoil bool) (*dns.RRSIG, error) {
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Ttl: rrs[0].Header().Ttl},
		Algorithm:  k.dnskey.Algorithm,
		Inception:  uint32(now.Add(-time.Hour).Unix()),
		Expiration: uint32(now.Add(sigValidity).Unix()),
		KeyTag:     k.dnskey.KeyTag(),
		SignerName: k.dnskey.Hdr.Name,
	}
	if err := sig.Sign(k.priv, rrs); err != nil {
		return nil, err
	}
	if spoil {
		b, err := base64.StdEncoding.DecodeString(sig.Signature)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("signature not in base64")
		}
		b[len(b)/2] ^= 0x5a
		sig.Signature = base64.StdEncoding.EncodeToString(b)
	}
	return sig, nil
}

// Key returns the DNSKEY made for name when the zone gave it the
// status secure or bogus (nil otherwise): the key that verifies the
// RRSIGs of the names it signs (for bogus names, none does).
func (s *Server) Key(name string) *dns.DNSKEY {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	if k := s.keys[dns.CanonicalName(name)]; k != nil {
		return dns.Copy(k.dnskey).(*dns.DNSKEY)
	}
	return nil
}

// addDNSSEC sets the AD bit of m, an answer to req that is secure or
// not, as a validating resolver does (RFC 4035 3.2.3, RFC 6840 5.7:
// when the query has the DO or the AD bit); when the query has DO, it
// adds the RRSIGs of the RRsets in the answer and authority sections
// and an OPT record with DO (RFC 3225).
func (d *zoneData) addDNSSEC(m, req *dns.Msg, secure bool) {
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return
	}
	opt := req.IsEdns0()
	do := opt != nil && opt.Do()
	m.AuthenticatedData = secure && (do || req.AuthenticatedData)
	if !do {
		return
	}
	m.Answer = append(m.Answer, d.sigsOf(m.Answer)...)
	m.Ns = append(m.Ns, d.sigsOf(m.Ns)...)
	m.SetEdns0(opt.UDPSize(), true)
}

// sigsOf returns the RRSIGs of the RRsets in rrs, each once.
func (d *zoneData) sigsOf(rrs []dns.RR) []dns.RR {
	type set struct {
		name string
		t    uint16
	}
	seen := map[set]bool{}
	var out []dns.RR
	for _, rr := range rrs {
		h := rr.Header()
		k := set{dns.CanonicalName(h.Name), h.Rrtype}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d.sigs[k.name][k.t]...)
	}
	return out
}

// TLSA is the zone data of a TLSA record (RFC 6698 2.2): usage,
// selector, matching type and the association data in hex, as in
// Zone{"_25._tcp.mx.example.test TLSA": {dnstest.TLSA(3, 1, 1, digest)}}.
func TLSA(usage, selector, mtype uint8, data []byte) string {
	return strconv.Itoa(int(usage)) + " " + strconv.Itoa(int(selector)) + " " +
		strconv.Itoa(int(mtype)) + " " + hex.EncodeToString(data)
}
