// Package mailauth holds the policy stages of mail authentication for
// inbound: SPF at MAIL FROM (RFC 7208), DKIM verification (RFC 6376),
// ARC chain validation (RFC 8617) and DMARC (RFC 7489) once the message
// is in, the Received-SPF and
// Authentication-Results header fields (RFC 8601), DKIM signing of our
// own users' mail, and the intake of DMARC reports sent to us. The
// checks themselves live in internal/spf, dkim and dmarc; this package
// decides who is checked, what is enforced and what is written.
package mailauth

import (
	"log/slog"
	"net/netip"
	"time"

	"postern/internal/dmarc"
	"postern/internal/dmarcreport"
	pdns "postern/internal/dns"
	"postern/internal/inbound"
)

// Options configure the Verifier.
type Options struct {
	// Hostname is this host's name: the authserv-id of the
	// Authentication-Results we write and the receiver in Received-SPF.
	Hostname string
	Resolver pdns.Resolver
	Log      *slog.Logger
	// Trusted reports whether a client is one of our own hosts
	// (trusted_networks); nil means none is.
	Trusted func(netip.Addr) bool
	// NoSPF, NoDKIM and NoDMARC turn a check off ([spf] check, [dkim]
	// verify, [dmarc] check set to false), when another filter does it.
	NoSPF, NoDKIM, NoDMARC bool
	// SPFRejectFail refuses an SPF fail at RCPT ([spf] reject_fail).
	SPFRejectFail bool
	// NoARC turns ARC chain validation off ([arc] verify = false).
	NoARC bool
	// TrustedSealers are the ARC sealers (d= of the newest ARC-Seal)
	// whose chain may override a DMARC failure ([arc] trusted_sealers).
	TrustedSealers []string
	// DKIMMaxSignatures caps the signatures verified per message; 0
	// means the dkim package's default.
	DKIMMaxSignatures int
	// Enforce says what DMARC results lead to ([dmarc] enforce, quarantine).
	Enforce dmarc.EnforceOptions
	// Local holds the trusted forwarders ([dmarc] trusted_forwarders).
	Local dmarc.LocalPolicy
	// Store records every DMARC evaluation for aggregate reports; nil
	// records nothing.
	Store dmarcreport.Backend
	// Failures is told of the evaluations a DMARC failure report is due
	// about ([dmarc] failure_reports); nil sends none.
	Failures FailureReporter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// exempt reports whether mail on c is our own users' or hosts' mail,
// which is signed rather than checked: a client that logged in, or one
// in trusted_networks. RFC 7208 2.5 and RFC 7489 section 6 are about
// mail arriving from other administrative domains.
func exempt(c *inbound.Conn, trusted func(netip.Addr) bool) bool {
	return c.AuthUser != "" || isTrusted(c, trusted)
}

func isTrusted(c *inbound.Conn, trusted func(netip.Addr) bool) bool {
	return trusted != nil && c.IP().IsValid() && trusted(c.IP())
}
