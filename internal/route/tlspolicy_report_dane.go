package route

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"postern/internal/dane"
	"postern/internal/deliver"
	"postern/internal/tlsrpt"
)

// reportDANE counts a session with a server DANE has spoken for, and
// reports whether it did (false: DANE does not apply, and the domain's
// other policy counts it). The policy is "tlsa" (RFC 8460 4.4) with the
// server's usable TLSA records as policy-string and its name as mx-host.
// Its policy-domain is the recipient domain, as for MTA-STS: it is that
// domain's _smtp._tls record that asks for reports about its MX hosts
// (Postfix does the same).
//
// No session is ever counted as dane-required: postern has no setting
// that requires DANE of a domain whose servers publish no TLSA records.
func (d *domainTLS) reportDANE(c *deliver.TLSChoice, s deliver.Server, seen daneSeen, err error) bool {
	rep := d.p.Reports
	pol := tlsrpt.Policy{Type: tlsrpt.PolicyTLSA, Domain: d.domain, MXHost: []string{s.Name}}
	switch {
	case seen.failed != nil:
		// RFC 8460 4.3.2.1: no valid records came from the resolver (a
		// SERVFAIL, which is how a validating resolver answers bogus
		// data); the server is passed over.
		rep.Record(tlsrpt.Session{Time: time.Now(), Policy: pol, Result: tlsrpt.ResultDNSSECInvalid, MXHost: s.Name,
			ReceivingIP: s.IP, SendingIP: tlsrpt.SourceAddr(s.IP), Reason: seen.failed.Error()})
		return true
	case seen.dec.Mode == dane.ModeEncrypt && err == nil:
		// Validated TLSA records, none usable (RFC 8460 4.3.2.1: none of
		// the records in the RRset were found to be valid): a failure of
		// the DANE policy whatever TLS gives.
		c.Report = func(o deliver.TLSOutcome) {
			rep.Record(tlsrpt.Session{Time: time.Now(), Policy: pol, Result: tlsrpt.ResultTLSAInvalid, MXHost: o.Host,
				ReceivingIP: o.IP, SendingIP: tlsrpt.SourceAddr(o.IP), Reason: seen.dec.Why})
		}
		return true
	case seen.dec.Mode == dane.ModeVerify:
		pol.String = tlsaStrings(seen.dec.Records)
		d.daneOutcomes(c, pol)
		return true
	}
	return false
}

// daneOutcomes counts the TLS outcomes of the sessions under a DANE
// choice. The result type of a certificate that fails DANE comes from
// the error of the choice's Verify, which it wraps to keep it.
func (d *domainTLS) daneOutcomes(c *deliver.TLSChoice, pol tlsrpt.Policy) {
	rep := d.p.Reports
	var mu sync.Mutex
	var verr error
	if verify := c.Verify; verify != nil {
		c.Verify = func(st *tls.ConnectionState) error {
			err := verify(st)
			mu.Lock()
			verr = err
			mu.Unlock()
			return err
		}
	}
	c.Report = func(o deliver.TLSOutcome) {
		mu.Lock()
		err := verr
		verr = nil
		mu.Unlock()
		ss := tlsrpt.Session{Time: time.Now(), Policy: pol, Result: o.Result, MXHost: o.Host, ReceivingIP: o.IP, Reason: o.Detail}
		if ss.Result != "" {
			ss.Result = daneResult(ss.Result, err)
			ss.SendingIP = tlsrpt.SourceAddr(o.IP)
		}
		rep.Record(ss)
	}
}

// daneResult is the RFC 8460 result type of a session that failed under
// DANE: delivery's, unless DANE's verification says more.
func daneResult(result string, verr error) string {
	switch {
	case errors.Is(verr, dane.ErrNoMatch), errors.Is(verr, dane.ErrChain), errors.Is(verr, dane.ErrNoRecords):
		// RFC 8460 4.3.2.1: none of the TLSA records validated the
		// server.
		return tlsrpt.ResultTLSAInvalid
	case errors.Is(verr, dane.ErrName):
		return tlsrpt.ResultCertificateHostMismatch
	}
	return result
}

// tlsaStrings are TLSA records in presentation format, for policy-string.
func tlsaStrings(recs []dane.Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%d %d %d %x", r.Usage, r.Selector, r.MatchingType, r.Data))
	}
	return out
}
