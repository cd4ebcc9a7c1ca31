package console

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/http"
	"strings"
	"time"

	"postern/internal/dkimkeys"
)

// CertWarnDays: a certificate with fewer days left is shown as a warning.
const CertWarnDays = 14

// dkimTimeout bounds the DNS lookups of the selectors' records.
const dkimTimeout = 15 * time.Second

type certRow struct {
	Subject, Names, Issuer string
	NotAfter               time.Time
	DaysLeft               int
	Warn, Expired          bool
}

type keysBody struct {
	DKIM    string // the report of postern dkim status
	DKIMOK  bool
	Certs   []certRow
	NoCerts bool
}

// keys shows the DKIM selectors with their rotation state and whether
// DNS holds each record (what `postern dkim status` prints, from the
// same code), and the expiry of the server's certificates.
func (c *Console) keys(w http.ResponseWriter, r *http.Request, s *session) {
	b := keysBody{DKIMOK: true}
	if c.o.DKIMDir == "" {
		b.DKIM = "DKIM keys are not configured."
	} else {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(r.Context(), dkimTimeout)
		k := &dkimkeys.Keys{Dir: c.o.DKIMDir, ActivateAfter: c.o.ActivateAfter, Resolver: c.o.Resolver}
		ok, err := k.Status(ctx, &out)
		cancel()
		if err != nil {
			ok = false
			out.WriteString("the DKIM key directory cannot be read: " + err.Error() + "\n")
		}
		b.DKIM, b.DKIMOK = out.String(), ok
	}
	now := c.o.Now()
	if c.o.TLS != nil {
		for _, cert := range c.o.TLS.Certificates {
			if row, ok := describeCert(cert.Leaf, cert.Certificate, now); ok {
				b.Certs = append(b.Certs, row)
			}
		}
	}
	b.NoCerts = len(b.Certs) == 0
	render(w, http.StatusOK, "keys", pageView(s, "keys", "Authentication and keys", b))
}

// describeCert is one certificate's row; leaf may be nil (then the first
// DER certificate is parsed).
func describeCert(leaf *x509.Certificate, der [][]byte, now time.Time) (certRow, bool) {
	if leaf == nil {
		if len(der) == 0 {
			return certRow{}, false
		}
		var err error
		if leaf, err = x509.ParseCertificate(der[0]); err != nil {
			return certRow{}, false
		}
	}
	left := leaf.NotAfter.Sub(now)
	days := int(left.Hours() / 24)
	return certRow{Subject: leaf.Subject.CommonName, Names: strings.Join(leaf.DNSNames, ", "),
		Issuer: leaf.Issuer.CommonName, NotAfter: leaf.NotAfter, DaysLeft: days,
		Warn: days < CertWarnDays, Expired: left <= 0}, true
}
