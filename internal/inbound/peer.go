package inbound

import (
	"context"
	"crypto/tls"

	"postern/internal/maps"
	"postern/internal/policy"
	"postern/internal/smtp"
	"postern/internal/smtpd"
	"postern/internal/tlsutil"
)

// replyNotNow is the Srv_Features: t answer: come back later.
var replyNotNow = &smtp.Reply{Code: 421, Enhanced: "4.7.0", Text: "not accepting mail from this client now, try again later"}

// srvFeatures reads the client's Srv_Features: entry into the session's
// Features; a "t" refuses the connection for now.
func (s *session) srvFeatures(ctx context.Context) *Verdict {
	if s.b.opts.Relay == nil || s.conn.Mode == smtpd.ModeLocal {
		return nil
	}
	e, ok := s.b.opts.Relay.Features(s.conn.IP(), s.conn.ClientName)
	if !ok {
		return nil
	}
	if on, _ := e.Features.Feature('t'); on {
		return &Verdict{Reply: replyNotNow, Rule: "client: " + e.Rule()}
	}
	s.features = featuresOf(e.Features)
	s.log.DebugContext(ctx, "client features", "client", s.conn.Client(), "rule", e.Rule())
	return nil
}

// featuresOf maps sendmail's letters onto what smtpd offers.
func featuresOf(f maps.Features) smtpd.Features {
	var out smtpd.Features
	off := func(letter byte) bool { on, set := f.Feature(letter); return set && !on }
	out.NoSTARTTLS, out.NoAUTH, out.NoDSN, out.NoPipelining = off('s'), off('a'), off('d'), off('p')
	out.RequireAuth, _ = f.Feature('l')
	if on, set := f.Feature('v'); set {
		out.ClientCert = -1
		if on {
			out.ClientCert = 1
		}
	}
	return out
}

// Features implements smtpd.Featurer.
func (s *session) Features() smtpd.Features { return s.features }

// clientTLS records the session's TLS for the access map: its strength
// and, when the client presented a certificate that verifies against
// [tls] client_ca_file, its issuer and subject.
func (s *session) clientTLS(ctx context.Context, cs tls.ConnectionState) {
	t := policy.ClientTLS{On: true, Bits: tlsutil.CipherBits(cs.CipherSuite)}
	if len(cs.PeerCertificates) > 0 {
		issuer, subject, err := tlsutil.VerifyClient(cs, s.b.opts.ClientCAs)
		if err != nil {
			s.log.InfoContext(ctx, "client certificate not verified", "client", s.conn.Client(),
				"subject", tlsutil.OneLine(cs.PeerCertificates[0].Subject), "err", err)
		} else {
			t.Issuer, t.Subject = issuer, subject
			s.log.InfoContext(ctx, "client certificate verified", "client", s.conn.Client(), "subject", subject, "issuer", issuer)
		}
	}
	s.conn.ClientTLS = t
}

// checkClientTLS applies the client's TLS_Clt: entry at MAIL.
func (s *session) checkClientTLS(ctx context.Context) *smtp.Reply {
	if s.b.opts.Relay == nil {
		return nil
	}
	v := s.b.opts.Relay.ClientTLSCheck(s.conn.IP(), s.conn.ClientName, s.conn.ClientTLS)
	if v.Reply == nil {
		return nil
	}
	s.logReject(ctx, "mail", &Verdict{Reply: v.Reply, Rule: v.Rule})
	return v.Reply
}
