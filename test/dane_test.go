package test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/tlsutil"
)

// DANE (RFC 7672) on delivery, with Postfix as the MX and a signed zone
// served with the AD bit from the loopback DNS server: matching TLSA
// records get verified TLS; a mismatch or a TLSA lookup that fails keeps
// the mail queued, never sent in plaintext; an unsigned zone's records
// are not used.
func TestDANEOutbound(t *testing.T) {
	sk := startSink(t)
	tlsDir := t.TempDir()
	os.Chmod(tlsDir, 0o755)
	if _, err := tlsutil.Load("", "", tlsDir, "mx.dane.example"); err != nil {
		t.Fatal(err)
	}
	cert, key := tlsutil.SelfSignedPaths(tlsDir)
	os.Chmod(key, 0o644)
	domains := []string{"dane.example", "badtlsa.example", "servfail.example", "unsigned.example"}
	pfPort := startPostfixMX(t, "mx.dane.example", cert, key, sk, domains...)
	spki := spkiSHA256(t, cert)
	wrong := sha256.Sum256([]byte("another key"))
	zone := dnstest.Zone{}
	for _, d := range domains {
		zone[d+" DNSSEC"] = []string{"secure"}
		zone[d+". MX"] = []string{"10 mx." + d + "."}
		zone["mx."+d+". A"] = []string{"127.0.0.1"}
		zone[fmt.Sprintf("_%d._tcp.mx.%s. TLSA", pfPort, d)] = []string{dnstest.TLSA(3, 1, 1, spki)}
	}
	zone["unsigned.example DNSSEC"] = []string{"insecure"}
	zone[fmt.Sprintf("_%d._tcp.mx.badtlsa.example. TLSA", pfPort)] = []string{dnstest.TLSA(3, 1, 1, wrong[:])}
	zone[fmt.Sprintf("_%d._tcp.mx.unsigned.example. TLSA", pfPort)] = []string{dnstest.TLSA(3, 1, 1, wrong[:])}
	delete(zone, fmt.Sprintf("_%d._tcp.mx.servfail.example. TLSA", pfPort))
	zone[fmt.Sprintf("_%d._tcp.mx.servfail.example SERVFAIL", pfPort)] = []string{"TLSA"}
	dns := dnstest.Start(t, zone)
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, pfPort, "")})
	s.start()
	for _, d := range domains {
		relayOne(t, s, "alice@example.test", "bob@"+d, "Subject: to "+d+"\r\n\r\nhi\r\n")
	}
	got := sk.wait(t, 2, 30*time.Second)
	eventually(t, 20*time.Second, "both deferrals logged", func() bool {
		l := s.logs()
		return strings.Contains(l, "DANE TLSA lookup for the next-hop server failed") && strings.Contains(l, "certificate not verified")
	})
	time.Sleep(time.Second)
	got = sk.wait(t, 2, time.Second)
	all := strings.Join(got, "\n")
	if len(got) != 2 || !strings.Contains(all, "Subject: to dane.example") || !strings.Contains(all, "Subject: to unsigned.example") {
		t.Fatalf("want dane.example and unsigned.example delivered, got %d:\n%s\npostern:\n%s", len(got), all, s.logs())
	}
	logs := s.logs()
	if !strings.Contains(logs, "why=\"DANE: ") || !strings.Contains(logs, "verified=true") {
		t.Errorf("no DANE-verified session in the log:\n%s", logs)
	}
	if strings.Contains(logs, "retrying without TLS") {
		t.Errorf("a plaintext fallback:\n%s", logs)
	}
	out, err := s.postern("", "explain", "-client", "127.0.0.1", "-from", "alice@example.test", "-rcpt", "bob@dane.example")
	if err != nil || !strings.Contains(out, "TLS with mx.dane.example: verify (DANE: ") {
		t.Errorf("explain: %v\n%s", err, out)
	}
}

// spkiSHA256 is the SHA-256 of a PEM certificate's public key, for a
// DANE-EE(3) SPKI(1) SHA-256(1) record.
func spkiSHA256(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM", file)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return sum[:]
}
