package deliver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
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

// Stricter returns the stricter of two policies (never < may < required < verify).
func (p TLSPolicy) Stricter(q TLSPolicy) TLSPolicy {
	rank := func(x TLSPolicy) int { return [...]int{1, 0, 2, 3}[x] }
	if rank(q) > rank(p) {
		return q
	}
	return p
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
func (r *Remote) logTLS(ctx context.Context, id string, t target, st *tls.ConnectionState, verifyErr error) {
	attrs := []any{"id", id, "host", t.name, "ip", t.ip.String(),
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
