package mailauth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"

	"postern/internal/dkim"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// Signer DKIM-signs the mail of clients that logged in or are in
// trusted_networks, when the From domain has an active key. It must be
// the last DATA checker: it signs the content as it will be stored, once,
// before the spool, so that retries never sign again. The signature is
// added above the content; postern's Received and the header fields
// other checkers add are above it too, and none is in h=.
type Signer struct {
	s       *dkim.Signer
	trusted func(netip.Addr) bool
	log     *slog.Logger
}

// NewSigner returns the signing stage; trusted is trusted_networks.
func NewSigner(s *dkim.Signer, trusted func(netip.Addr) bool, log *slog.Logger) *Signer {
	return &Signer{s: s, trusted: trusted, log: log}
}

// CheckData signs the message.
func (s *Signer) CheckData(ctx context.Context, t *inbound.Txn, m *inbound.Message) *inbound.Verdict {
	if !exempt(t.Conn, s.trusted) {
		return nil
	}
	froms := m.Header()["From"]
	if len(froms) != 1 {
		return nil
	}
	domains := fromDomains(froms)
	if len(domains) != 1 {
		// A From with addresses of several domains: no single domain
		// can vouch for it.
		return nil
	}
	sig, err := s.SignMessage(ctx, domains[0], m.Reader())
	if err != nil {
		// A key that cannot be used: better the sender retries than the
		// mail goes out unsigned and fails DMARC at the receiver.
		return &inbound.Verdict{
			// RFC 3463 X.7.5: the key needed is not available.
			Reply: &smtp.Reply{Code: 451, Enhanced: "4.7.5", Text: "cannot DKIM-sign mail from " + domains[0] + " now; try again later", Err: err},
			Rule:  "DKIM signing failed for " + domains[0],
		}
	}
	for _, h := range splitFields(sig) {
		name, value, _ := strings.Cut(h, ":")
		t.AddHeader(name, strings.TrimPrefix(value, " "))
	}
	return nil
}

// SignMessage returns the DKIM-Signature fields for a message from
// domain ("" when the domain has no active key).
func (s *Signer) SignMessage(ctx context.Context, domain string, r io.Reader) (string, error) {
	sig, err := s.s.Sign(ctx, domain, r)
	if err != nil {
		return "", fmt.Errorf("dkim sign: %w", err)
	}
	return sig, nil
}

// splitFields splits CRLF-terminated header fields (continuation lines
// kept with their field) and drops the final CRLF of each.
func splitFields(s string) []string {
	var out []string
	for _, line := range strings.SplitAfter(s, "\r\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1] += line
			continue
		}
		out = append(out, line)
	}
	for i := range out {
		out[i] = strings.TrimSuffix(out[i], "\r\n")
	}
	return out
}
