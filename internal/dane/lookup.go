package dane

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"postern/internal/dns"
)

// Mode is what DANE asks of the connection to one server.
type Mode int

// The modes, from the weakest.
const (
	// ModeNone: DANE does not apply; the caller uses its other TLS
	// policy (MTA-STS, the configured default).
	ModeNone Mode = iota
	// ModeEncrypt: the server has a DNSSEC-validated TLSA RRset whose
	// records are all unusable. TLS is mandatory but not authenticated
	// by DANE (RFC 7672 2.2); the caller may still apply its other
	// policy's certificate checks.
	ModeEncrypt
	// ModeVerify: DANE applies. TLS is mandatory and the server's
	// certificate must pass VerifyConnection.
	ModeVerify
)

func (m Mode) String() string {
	switch m {
	case ModeNone:
		return "none"
	case ModeEncrypt:
		return "encrypt"
	case ModeVerify:
		return "verify"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Decision is what Lookup found for one server.
type Decision struct {
	Mode Mode
	// Why says in plain words what decided the mode, for the log and
	// for postern explain ("DNSSEC-validated TLSA records at
	// _25._tcp.mx.example.org (2 usable)").
	Why string
	// Records are the usable TLSA records (ModeVerify).
	Records []Record
	// Unusable says why each other record of the RRset was ignored.
	Unusable []string
	// BaseDomain is the TLSA base domain (RFC 7672 2.2.2), lower case
	// without the final dot: the name the TLS client must send as its
	// server name (SNI, RFC 7672 8.1). Empty with ModeNone when no TLSA
	// RRset was found.
	BaseDomain string
	// TLSAName is the name whose TLSA RRset decided
	// ("_25._tcp.mx.example.org."), when one did.
	TLSAName string
	// Names are the names a DANE-TA certificate may be for (RFC 7672
	// 3.2.2): the TLSA base domain, then the host name Lookup was given
	// when it differs. A caller may append others it accepts (the
	// destination domain).
	Names []string
}

// VerifyConnection checks the server of a TLS connection against the
// decision: for ModeVerify, Verify with the decision's records and
// names at the current time; for the other modes nothing (nil). It
// fits tls.Config.VerifyConnection, with InsecureSkipVerify set.
func (d Decision) VerifyConnection(st *tls.ConnectionState) error {
	if d.Mode != ModeVerify {
		return nil
	}
	if st == nil {
		return ErrNoCertificate
	}
	return Verify(st.PeerCertificates, d.Records, d.Names, time.Now())
}

// Lookup decides how DANE applies to SMTP with host on port (25 for
// MX delivery), following RFC 7672 2.2: the host name must come from a
// trusted source (mxSecure), its address records must be DNSSEC-
// validated, and its TLSA RRset too. The error, when there is one, is a
// temporary failure: an address or TLSA lookup that failed (SERVFAIL,
// which validating resolvers answer for bogus data, or no reply); the
// caller must not fall back to another policy, but try another server
// or defer (RFC 7672 2.2). Every other outcome is a Decision.
//
// mxSecure says whether the host name is trustworthy:
//   - true when host comes from a DNSSEC-validated MX RRset, or is the
//     destination domain itself after a validated denial of MX records
//     (RFC 7672 2.2.1: the implicit MX);
//   - true as well when the operator named the host in the configuration
//     (a route to [host] or a smarthost): local configuration is at
//     least as trustworthy as a validated MX answer, so DANE applies when
//     the host's own records are validated, as Postfix does for such a
//     next hop;
//   - false when the MX RRset was not validated: then DANE does not
//     apply to any of its hosts, and Lookup asks nothing.
//
// An IP address is never subject to DANE: TLSA records hang off names.
func Lookup(ctx context.Context, r dns.DNSSECResolver, host string, port int, mxSecure bool) (Decision, error) {
	h := normalName(host)
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil || h == "" {
		return none("%q is not a host name", host), nil
	}
	if !mxSecure {
		return none("the MX records of %s are not DNSSEC-validated", h), nil
	}
	addr, err := r.LookupIPAddrDNSSEC(ctx, h)
	switch {
	case dns.IsNotFound(err):
		return none("%s has no address records", h), nil
	case err != nil:
		return Decision{}, fmt.Errorf("DANE: address lookup of %s: %w", h, err)
	case !addr.Secure:
		return none("the address records of %s are not DNSSEC-validated", h), nil
	}
	// RFC 7672 2.2.2: a validated CNAME chain makes its target the
	// first TLSA base domain to try; the host name comes next when the
	// target has no validated TLSA records.
	bases := []string{h}
	if target := normalName(addr.Name); target != "" && target != h {
		bases = []string{target, h}
	}
	var why string
	for _, base := range bases {
		res, err := r.LookupTLSA(ctx, port, "tcp", base)
		switch {
		case err != nil && !dns.IsNotFound(err):
			return Decision{}, fmt.Errorf("DANE: TLSA lookup for %s port %d: %w", base, port, err)
		case err != nil || len(res.Records) == 0:
			why = fmt.Sprintf("no TLSA records at %s", tlsaName(res, port, base))
			if !res.Secure {
				why += " (denial not DNSSEC-validated)"
			}
		case !res.Secure:
			why = fmt.Sprintf("the TLSA records at %s are not DNSSEC-validated", tlsaName(res, port, base))
		default:
			return decide(res, base, h), nil
		}
	}
	return none("%s", why), nil
}

// none is a ModeNone decision.
func none(format string, args ...any) Decision {
	return Decision{Mode: ModeNone, Why: "DANE does not apply: " + fmt.Sprintf(format, args...)}
}

// decide judges a validated TLSA RRset found at base for host.
func decide(res dns.TLSAResult, base, host string) Decision {
	usable, unusable := ParseSet(res.Records)
	d := Decision{
		Records:    usable,
		Unusable:   unusable,
		BaseDomain: base,
		TLSAName:   res.Name,
		Names:      []string{base},
	}
	if host != base {
		d.Names = append(d.Names, host)
	}
	name := strings.TrimSuffix(res.Name, ".")
	if len(usable) == 0 {
		d.Mode = ModeEncrypt
		d.Why = fmt.Sprintf("the %d DNSSEC-validated TLSA records at %s are all unusable: TLS required, not authenticated by DANE",
			len(unusable), name)
		return d
	}
	d.Mode = ModeVerify
	d.Why = fmt.Sprintf("DNSSEC-validated TLSA records at %s (%d usable, %d unusable)", name, len(usable), len(unusable))
	return d
}

// tlsaName is the TLSA owner asked, for messages.
func tlsaName(res dns.TLSAResult, port int, base string) string {
	if res.Name != "" {
		return strings.TrimSuffix(res.Name, ".")
	}
	return fmt.Sprintf("_%d._tcp.%s", port, base)
}
