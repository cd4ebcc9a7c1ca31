package deliver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"postern/internal/smtp"
	"postern/internal/smtpclient"
)

// TLSPolicy says how delivery to a server uses STARTTLS (RFC 3207).
type TLSPolicy int

const (
	// PolicyMay tries STARTTLS when offered, accepts any certificate
	// (logging whether it verified) and, when the handshake fails, sends
	// the message again in plaintext (opportunistic TLS, RFC 7435).
	PolicyMay TLSPolicy = iota
	// PolicyNever does not try STARTTLS (a peer whose TLS is broken).
	PolicyNever
	// PolicyRequired needs STARTTLS to succeed, any certificate; without
	// it delivery is deferred.
	PolicyRequired
	// PolicyVerify needs STARTTLS with a certificate that verifies for
	// the server's host name; without it delivery is deferred.
	PolicyVerify
)

var policyNames = [...]string{"may", "never", "required", "verify"}

func (p TLSPolicy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("TLSPolicy(%d)", int(p))
}

// ParseTLSPolicy reads "may", "never", "required" or "verify".
func ParseTLSPolicy(s string) (TLSPolicy, error) {
	for i, n := range policyNames {
		if strings.EqualFold(s, n) {
			return TLSPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("TLS policy %q: want may, never, required or verify", s)
}

// TLSRules decide the TLS policy of each server a delivery tries;
// route.TLSPolicies is postern's. nil rules mean PolicyMay for every
// server.
type TLSRules interface {
	// Domain is asked once per delivery attempt at a destination, before
	// its servers are tried: domain is the recipients' domain ("" for
	// the smarthost), viaMX whether its MX hosts are used (no route of
	// the operator's). An error defers the recipients: a published
	// policy that cannot be looked up is never taken for none.
	Domain(ctx context.Context, domain string, viaMX bool) (DomainTLS, error)
}

// DomainTLS is what a destination's policies say; Host gives the choice
// for one of its servers.
type DomainTLS interface {
	// Host is the policy for one server. An error means the server may
	// not be used (an MX host that an enforced MTA-STS policy does not
	// list, a TLSA lookup that failed): the next one is tried, and the
	// recipients are deferred when none is left.
	Host(ctx context.Context, s Server) (TLSChoice, error)
}

// Server is one server delivery is about to try.
type Server struct {
	Name string     // its host name (MX name, or the hop's name); the address text for a literal
	IP   netip.Addr // the address to connect to
	Port int
	// MXSecure: the name came from a DNSSEC-validated MX answer (or
	// validated "no MX"), or from the operator's own route; DANE (RFC
	// 7672 2.2.1) applies only then.
	MXSecure bool
	// IgnorePublished: the message says "TLS-Required: No" (RFC 8689 5),
	// so the domain's DANE and MTA-STS policies do not apply to it; the
	// operator's rules still do.
	IgnorePublished bool
}

// TLSChoice is the policy for one server, and why.
type TLSChoice struct {
	Policy TLSPolicy
	// Why names the rule that gave the policy, for the log and for
	// postern explain ("MTA-STS policy of example.org, mode enforce").
	Why string
	// Verify, when set, checks the server's certificates in place of
	// the roots and host name check of PolicyVerify (DANE).
	Verify func(st *tls.ConnectionState) error
	// ServerName, when set, is the name sent in the TLS handshake (SNI)
	// instead of the server's host name: DANE's TLSA base domain.
	ServerName string
	// NameSecure says the server's name comes from a source an attacker
	// on the network cannot forge: the operator's own route or
	// smarthost, an MTA-STS policy that lists it, or a DNSSEC-validated
	// MX record. REQUIRETLS (RFC 8689 4.2.1) needs it.
	NameSecure bool
	// Report, when set, is told the outcome of each TLS negotiation
	// under this choice (for TLS reports, RFC 8460).
	Report func(TLSOutcome)
}

// TLSOutcome is how one session's TLS went.
type TLSOutcome struct {
	Host string     // the server's name
	IP   netip.Addr // its address
	// Result is "" for a success, else an RFC 8460 4.3 result type:
	// "starttls-not-supported", "certificate-host-mismatch",
	// "certificate-expired", "certificate-not-trusted",
	// "validation-failure".
	Result string
	Detail string // the error, for the report's additional information
}

// outcome reports a session's TLS result under choice, if it asks.
func (choice TLSChoice) outcome(t target, result string, err error) {
	if choice.Report == nil {
		return
	}
	o := TLSOutcome{Host: t.name, IP: t.ip, Result: result}
	if err != nil {
		o.Detail = err.Error()
	}
	choice.Report(o)
}

// certResult is the RFC 8460 result type of a certificate that did not
// verify.
func certResult(err error) string {
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &host):
		return "certificate-host-mismatch"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "certificate-expired"
	case errors.As(err, &unknown):
		return "certificate-not-trusted"
	}
	return "validation-failure"
}

// StaticTLS is one policy for every server, as when no rule applies.
type StaticTLS TLSPolicy

// Domain implements TLSRules.
func (s StaticTLS) Domain(context.Context, string, bool) (DomainTLS, error) { return s, nil }

// Host implements DomainTLS.
func (s StaticTLS) Host(context.Context, Server) (TLSChoice, error) {
	return TLSChoice{Policy: TLSPolicy(s), Why: "default tls_policy " + TLSPolicy(s).String()}, nil
}

// Stricter returns the stricter of two policies (never < may < required < verify).
func (p TLSPolicy) Stricter(q TLSPolicy) TLSPolicy {
	rank := func(x TLSPolicy) int { return [...]int{1, 0, 2, 3}[x] }
	if rank(q) > rank(p) {
		return q
	}
	return p
}

// startTLS runs STARTTLS on c as choice says, then EHLO again. It
// returns nil when the session may go on (over TLS, or in plaintext
// where the policy allows it), errTLSFallback when the connection broke
// in a handshake that may be retried without TLS, else the reason to
// give up on this server.
func (r *Remote) startTLS(ctx context.Context, c *smtpclient.Client, id string, t target, choice TLSChoice) error {
	policy := choice.Policy
	if !c.Extensions().Has("STARTTLS") {
		choice.outcome(t, "starttls-not-supported", nil)
		if policy >= PolicyRequired {
			return replyTLSRequired.With(fmt.Errorf("%s[%s] does not offer STARTTLS (policy %s: %s)", t.name, t.ip, policy, choice.Why))
		}
		r.Log.InfoContext(ctx, "next hop offers no STARTTLS; plaintext", "id", id, "host", t.name, "ip", t.ip.String(),
			"policy", policy.String(), "why", choice.Why)
		return nil
	}
	if err := c.StartTLS(ctx, r.tlsConfig(t, choice)); err != nil {
		choice.outcome(t, "validation-failure", err)
		var rep *smtp.Reply
		switch {
		case policy >= PolicyRequired:
			return replyTLSRequired.With(fmt.Errorf("%s[%s]: STARTTLS: %w (policy %s: %s)", t.name, t.ip, err, policy, choice.Why))
		case errors.As(err, &rep) && c.Usable():
			// STARTTLS refused with a reply: go on in plaintext on the
			// same connection.
			r.Log.InfoContext(ctx, "STARTTLS refused by next hop", "id", id, "host", t.name, "ip", t.ip.String(), "reply", err)
			return nil
		}
		r.Log.WarnContext(ctx, "TLS handshake with next hop failed, retrying without TLS", "id", id, "host", t.name, "ip", t.ip.String(), "err", err)
		return errTLSFallback
	}
	var verr error
	if choice.Verify != nil {
		verr = choice.Verify(c.TLS())
	} else {
		verr = r.verifyPeer(c.TLS(), t.name)
	}
	r.logTLS(ctx, id, t, c.TLS(), choice, verr)
	switch {
	case policy == PolicyVerify && verr != nil:
		choice.outcome(t, certResult(verr), verr)
	default:
		choice.outcome(t, "", nil)
	}
	if policy == PolicyVerify && verr != nil {
		return replyTLSRequired.With(fmt.Errorf("%s[%s]: certificate not verified: %w (policy %s: %s)", t.name, t.ip, verr, policy, choice.Why))
	}
	// RFC 3207 4.2: EHLO again; what was said before TLS is void.
	return c.Hello(ctx, r.Hostname)
}

// tlsConfig is the client configuration for one server. Certificates are
// checked after the handshake (verifyPeer), so that opportunistic TLS can
// log whether they verified without failing.
func (r *Remote) tlsConfig(t target, choice TLSChoice) *tls.Config {
	name := t.name
	if choice.ServerName != "" {
		name = choice.ServerName
	}
	return &tls.Config{
		ServerName:         name,
		InsecureSkipVerify: true, // verified by verifyPeer, per policy
		MinVersion:         tls.VersionTLS12,
		RootCAs:            r.RootCAs,
	}
}

// verifyPeer checks the server's chain against the roots and its host name.
func (r *Remote) verifyPeer(st *tls.ConnectionState, name string) error {
	if len(st.PeerCertificates) == 0 {
		return fmt.Errorf("no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := st.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName:       name,
		Roots:         r.RootCAs,
		Intermediates: inter,
	})
	return err
}

// logTLS writes the details of a TLS session with a server.
func (r *Remote) logTLS(ctx context.Context, id string, t target, st *tls.ConnectionState, choice TLSChoice, verifyErr error) {
	attrs := []any{"id", id, "host", t.name, "ip", t.ip.String(), "policy", choice.Policy.String(), "why", choice.Why,
		"version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite),
		"verified", verifyErr == nil}
	if len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		attrs = append(attrs, "subject", leaf.Subject.String(), "issuer", leaf.Issuer.String(),
			"not_after", leaf.NotAfter.UTC().Format("2006-01-02"))
	}
	if verifyErr != nil {
		attrs = append(attrs, "verify_err", verifyErr.Error())
	}
	r.Log.Log(ctx, slog.LevelInfo, "tls to next hop", attrs...)
}
