package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// certExpiryWarning is how long before expiry a certificate is a warning.
const certExpiryWarning = 14 * 24 * time.Hour

// checkTLS checks STARTTLS, the TLS versions, the certificate and AUTH on
// one port. label is "mta" (port 25) or "submission".
func (t *target) checkTLS(ctx context.Context, r *Report, port int, label string) {
	sub := label == "submission"
	id := func(s string) string { return s + "." + label }
	portName := label + " port " + strconv.Itoa(port)
	var tr []string
	c, err := t.session(ctx, port, &tr)
	if err != nil {
		st := Skip
		detail := "Could not open a session on " + portName + ": " + err.Error()
		r.add(Check{ID: id("tls.starttls"), Category: "tls", Title: "STARTTLS offered on " + portName, Status: st, Detail: detail, Evidence: tr})
		return
	}
	defer c.quit()
	r.add(checkPlainAuth(c, id("auth.plaintext"), portName, tr))

	st := Check{ID: id("tls.starttls"), Category: "tls", Title: "STARTTLS offered on " + portName}
	if !c.has("STARTTLS") {
		st.Status = Warn
		st.Detail = "STARTTLS is not offered: mail to and from this server travels in clear text."
		if sub {
			st.Status = Fail
			st.Detail = "STARTTLS is not offered on the submission port: users' passwords and mail travel in clear text."
		}
		st.Fix = "Configure a certificate: Postfix smtpd_tls_cert_file/smtpd_tls_key_file with smtpd_tls_security_level = may (encrypt on 587); sendmail confSERVER_CERT and confSERVER_KEY; postern [tls] cert and key."
		st.Evidence = tr
		r.add(st)
		return
	}
	start := len(tr)
	_, err = c.startTLS(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, ServerName: t.certName()})
	if err != nil || c.tlsInfo == nil {
		st.Status = Fail
		st.Detail = "STARTTLS is offered but the TLS handshake fails"
		if err != nil {
			st.Detail += ": " + err.Error()
		}
		st.Fix = "Check the certificate and key files and the TLS settings in the server's log."
		st.Evidence = tr
		r.add(st)
		return
	}
	state := *c.tlsInfo
	st.Status = Pass
	st.Detail = fmt.Sprintf("STARTTLS works; negotiated %s with %s.", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite))
	st.Evidence = append([]string(nil), tr...)
	r.add(st)

	// After TLS, RFC 3207 4.2 requires a fresh EHLO.
	if _, err := c.ehlo(heloName(c)); err == nil {
		checkAuthAfterTLS(r, c, id("auth.mechanisms"), portName, sub, tr[start:])
	}

	t.checkCertificate(r, state, label, portName)
	t.checkVersions(ctx, r, port, label, portName)
}

// checkPlainAuth checks that c, before TLS, offers no AUTH: it would send
// passwords in clear (RFC 4954 4: a server should not offer plaintext
// mechanisms without a security layer). tr is the session so far.
func checkPlainAuth(c *client, id, portName string, tr []string) Check {
	ap := Check{ID: id, Category: "auth", Title: "No AUTH before TLS on " + portName, Evidence: append([]string(nil), tr...)}
	if !c.has("AUTH") {
		ap.Status = Pass
		ap.Detail = "AUTH is not offered before TLS."
		return ap
	}
	ap.Status = Fail
	ap.Detail = "AUTH (" + c.ext["AUTH"] + ") is offered on a connection without TLS: "
	if m := strings.ToUpper(c.ext["AUTH"]); strings.Contains(m, "PLAIN") || strings.Contains(m, "LOGIN") {
		ap.Detail += "PLAIN and LOGIN send the password as it is, readable by anyone on the path."
	} else {
		ap.Detail += "challenge-response exchanges (CRAM-MD5, DIGEST-MD5) seen on the wire can be cracked off-line, and they need the passwords stored in clear on the server."
	}
	ap.Fix = "Offer AUTH only after STARTTLS: Postfix smtpd_tls_auth_only = yes; sendmail define(`confAUTH_OPTIONS', `A p y'); postern does this always."
	return ap
}

// checkAuthAfterTLS reports the AUTH mechanisms c offers after TLS; none
// is worth a check only on the submission port (sub). tr is the session
// since STARTTLS.
func checkAuthAfterTLS(r *Report, c *client, id, portName string, sub bool, tr []string) {
	am := Check{ID: id, Category: "auth", Title: "AUTH mechanisms after TLS on " + portName, Evidence: append([]string(nil), tr...)}
	mechs := strings.Fields(strings.ToUpper(c.ext["AUTH"]))
	switch {
	case len(mechs) > 0:
		am.Status = Pass
		am.Detail = "AUTH after TLS offers: " + strings.Join(mechs, " ") + "."
		r.add(am)
	case sub:
		am.Status = Warn
		am.Detail = "The submission port offers no AUTH even after TLS, so users cannot authenticate to send."
		am.Fix = "Enable SASL on the submission port (Postfix smtpd_sasl_auth_enable = yes in master.cf for submission), or check that this is intended."
		r.add(am)
	}
}

// certName is the name the certificate should be valid for.
func (t *target) certName() string {
	if t.opt.TLSName != "" {
		return t.opt.TLSName
	}
	if t.bannerHN != "" {
		return t.bannerHN
	}
	return t.host
}

func (t *target) checkCertificate(r *Report, state tls.ConnectionState, label, portName string) {
	c := Check{ID: "tls.certificate." + label, Category: "tls", Title: "Certificate valid on " + portName}
	if len(state.PeerCertificates) == 0 {
		c.Status, c.Detail = Fail, "The server sent no certificate."
		r.add(c)
		return
	}
	leaf := state.PeerCertificates[0]
	for i, cert := range state.PeerCertificates {
		c.Evidence = append(c.Evidence, fmt.Sprintf("cert %d: subject %q issuer %q names %v not after %s",
			i, cert.Subject.String(), cert.Issuer.String(), cert.DNSNames, cert.NotAfter.UTC().Format(time.RFC3339)))
	}
	now := t.opt.now()
	name := t.certName()
	inter := x509.NewCertPool()
	for _, cert := range state.PeerCertificates[1:] {
		inter.AddCert(cert)
	}
	_, verr := leaf.Verify(x509.VerifyOptions{Roots: t.opt.RootCAs, Intermediates: inter, CurrentTime: now, DNSName: name})
	var problems []string
	sev := Pass
	if now.After(leaf.NotAfter) {
		problems = append(problems, "it expired on "+leaf.NotAfter.UTC().Format("2006-01-02"))
		sev = Fail
	} else if leaf.NotAfter.Sub(now) < certExpiryWarning {
		problems = append(problems, "it expires on "+leaf.NotAfter.UTC().Format("2006-01-02"))
		sev = worst(sev, Warn)
	}
	if now.Before(leaf.NotBefore) {
		problems = append(problems, "it is not valid before "+leaf.NotBefore.UTC().Format("2006-01-02"))
		sev = Fail
	}
	if verr != nil {
		if herr := leaf.VerifyHostname(name); herr != nil {
			problems = append(problems, fmt.Sprintf("it is not valid for the name %s (names: %s)", name, strings.Join(leaf.DNSNames, ", ")))
		}
		if _, cerr := leaf.Verify(x509.VerifyOptions{Roots: t.opt.RootCAs, Intermediates: inter, CurrentTime: leaf.NotBefore.Add(time.Second)}); cerr != nil {
			problems = append(problems, "its chain does not lead to a trusted root ("+cerr.Error()+")")
		}
		// Opportunistic TLS between MTAs accepts any certificate, but
		// MTA-STS and DANE senders and every submission client do not.
		if label == "submission" {
			sev = Fail
		} else {
			sev = worst(sev, Warn)
		}
	}
	if len(problems) == 0 {
		c.Status = Pass
		c.Detail = fmt.Sprintf("The certificate chain is trusted, valid for %s and expires on %s.", name, leaf.NotAfter.UTC().Format("2006-01-02"))
	} else {
		c.Status = sev
		c.Detail = "The certificate has problems: " + strings.Join(problems, "; ") + "."
		c.Fix = "Install a certificate from a public CA (e.g. Let's Encrypt) for " + name + " with its full chain, and renew it automatically."
	}
	r.add(c)
}

// checkVersions tries each old TLS version in its own session.
func (t *target) checkVersions(ctx context.Context, r *Report, port int, label, portName string) {
	c := Check{ID: "tls.versions." + label, Category: "tls", Title: "Only TLS 1.2 or newer on " + portName}
	var accepted, refused []string
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		var tr []string
		s, err := t.session(ctx, port, &tr)
		if err != nil {
			c.Evidence = append(c.Evidence, tr...)
			continue
		}
		_, err = s.startTLS(&tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v, ServerName: t.certName()})
		if err == nil && s.tlsInfo != nil {
			accepted = append(accepted, tls.VersionName(v))
			s.quit()
		} else {
			refused = append(refused, tls.VersionName(v))
			s.close()
		}
		c.Evidence = append(c.Evidence, tr...)
	}
	c.Detail = "Accepted: " + listOrNone(accepted) + "; refused: " + listOrNone(refused) + "."
	old := 0
	modern := 0
	for _, a := range accepted {
		if a == "TLS 1.0" || a == "TLS 1.1" {
			old++
		} else {
			modern++
		}
	}
	switch {
	case modern == 0:
		c.Status = Fail
		c.Fix = "Enable TLS 1.2 and 1.3 (update the TLS library and server)."
	case old > 0:
		// RFC 8996: TLS 1.0 and 1.1 are deprecated.
		c.Status = Warn
		c.Fix = "Disable TLS 1.0 and 1.1 (RFC 8996): Postfix smtpd_tls_protocols = >=TLSv1.2; sendmail O CipherList / ServerSSLOptions +SSL_OP_NO_TLSv1 +SSL_OP_NO_TLSv1_1."
	default:
		c.Status = Pass
	}
	r.add(c)
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
