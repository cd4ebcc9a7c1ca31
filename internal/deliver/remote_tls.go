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
	// Host is the policy for the server host (its MX name, or the hop's
	// name) at ip. An error means the server may not be used (an MX host
	// that an enforced MTA-STS policy does not list): the next one is
	// tried, and the recipients are deferred when none is left.
	Host(ctx context.Context, host string, ip netip.Addr) (TLSChoice, error)
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
	// NameSecure says the server's name comes from a source an attacker
	// on the network cannot forge: the operator's own route or
	// smarthost, an MTA-STS policy that lists it, or a DNSSEC-validated
	// MX record. REQUIRETLS (RFC 8689 4.2.1) needs it.
	NameSecure bool
}

// StaticTLS is one policy for every server, as when no rule applies.
type StaticTLS TLSPolicy

// Domain implements TLSRules.
func (s StaticTLS) Domain(context.Context, string, bool) (DomainTLS, error) { return s, nil }

// Host implements DomainTLS.
func (s StaticTLS) Host(context.Context, string, netip.Addr) (TLSChoice, error) {
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
		if policy >= PolicyRequired {
			return replyTLSRequired.With(fmt.Errorf("%s[%s] does not offer STARTTLS (policy %s: %s)", t.name, t.ip, policy, choice.Why))
		}
		r.Log.InfoContext(ctx, "next hop offers no STARTTLS; plaintext", "id", id, "host", t.name, "ip", t.ip.String(),
			"policy", policy.String(), "why", choice.Why)
		return nil
	}
	if err := c.StartTLS(ctx, r.tlsConfig(t)); err != nil {
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
	if policy == PolicyVerify && verr != nil {
		return replyTLSRequired.With(fmt.Errorf("%s[%s]: certificate not verified: %w (policy %s: %s)", t.name, t.ip, verr, policy, choice.Why))
	}
	// RFC 3207 4.2: EHLO again; what was said before TLS is void.
	return c.Hello(ctx, r.Hostname)
}

// tlsConfig is the client configuration for one server. Certificates are
// checked after the handshake (verifyPeer), so that opportunistic TLS can
// log whether they verified without failing.
func (r *Remote) tlsConfig(t target) *tls.Config {
	return &tls.Config{
		ServerName:         t.name,
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
