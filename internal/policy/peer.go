package policy

import (
	"fmt"
	"net/netip"

	"postern/internal/maps"
	"postern/internal/smtp"
)

// ClientTLS is what a client's session has of TLS, for the access map's
// TLS_Clt: and CertIssuer:/CertSubject: entries.
type ClientTLS struct {
	On   bool // the session is over TLS
	Bits int  // the cipher's key strength in bits (AES-128: 128)
	// Issuer and Subject name the client's certificate, as sendmail
	// prints them ("/C=US/O=Example/CN=Example CA"), when it presented
	// one that verified against [tls] client_ca_file; "" otherwise.
	Issuer, Subject string
}

// Verified reports whether the client presented a certificate that
// verified.
func (t ClientTLS) Verified() bool { return t.Issuer != "" }

// Features is the access map's Srv_Features: entry for a client: what
// the server offers it.
func (r *Relay) Features(ip netip.Addr, hostname string) (maps.AccessEntry, bool) {
	m := r.maps()
	if m == nil {
		return maps.AccessEntry{}, false
	}
	return m.Access.SrvFeatures(hostname, ip.Unmap())
}

// replyClientTLS refuses MAIL from a client below its TLS_Clt: entry
// (temporarily, as sendmail's tls_client does).
var replyClientTLS = &smtp.Reply{Code: 450, Enhanced: "4.7.0", Text: "TLS requirement for this client not met"}

// ClientTLSCheck checks a client's session against its TLS_Clt: entry:
// a zero verdict when it has no entry or meets it, a refusal naming the
// rule otherwise.
func (r *Relay) ClientTLSCheck(ip netip.Addr, hostname string, t ClientTLS) AccessVerdict {
	m := r.maps()
	if m == nil || !ip.IsValid() {
		return AccessVerdict{}
	}
	e, ok := m.Access.TLSClient(hostname, ip.Unmap())
	if !ok {
		return AccessVerdict{}
	}
	rule := "client: " + e.Rule()
	var why string
	switch {
	case !t.On:
		why = "the session is not encrypted"
	case e.TLSReq.Verify && !t.Verified():
		why = "no verified client certificate"
	case e.TLSReq.Bits > 0 && t.Bits < e.TLSReq.Bits:
		why = fmt.Sprintf("cipher strength %d bits, below %d", t.Bits, e.TLSReq.Bits)
	default:
		return AccessVerdict{Rule: rule}
	}
	return AccessVerdict{Reply: replyClientTLS.With(fmt.Errorf("%s: %s", e.Rule(), why)), Rule: rule + ": " + why}
}

// certRelay is the CertIssuer:/CertSubject: entry that lets a client
// with a verified certificate relay.
func certRelay(m *maps.Maps, t ClientTLS) (maps.AccessEntry, bool) {
	if m == nil || !t.Verified() {
		return maps.AccessEntry{}, false
	}
	return m.Access.CertRelay(t.Issuer, t.Subject)
}
