package test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"postern/internal/testpeer"
)

// startPostfixMX runs Postfix as the MX of domains, with STARTTLS on the
// certificate and key given (a key file the postfix user can read), and
// passing their mail on to the sink; it returns Postfix's port.
func startPostfixMX(t *testing.T, name, cert, key string, sk *sink, domains ...string) int {
	t.Helper()
	var transports []string
	for _, d := range domains {
		transports = append(transports, fmt.Sprintf("%s=smtp:[127.0.0.1]:%d", d, sk.Port))
	}
	pf := testpeer.StartPostfix(t, map[string]string{
		"myhostname":                   name,
		"relay_domains":                strings.Join(domains, ", "),
		"transport_maps":               "inline:{" + strings.Join(transports, ", ") + "}",
		"smtpd_tls_security_level":     "may",
		"smtpd_tls_cert_file":          cert,
		"smtpd_tls_key_file":           key,
		"smtpd_recipient_restrictions": "permit_mynetworks, reject",
	})
	port, err := strconv.Atoi(portOf(pf.SMTP))
	if err != nil {
		t.Fatalf("postfix address %s: %v", pf.SMTP, err)
	}
	return port
}
