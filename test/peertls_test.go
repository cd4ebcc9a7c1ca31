package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/audit/audittest"
	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// sendmail's per-peer TLS rules in the access map, with swaks as the
// client: relaying by a verified client certificate (CERTISSUER:), no
// STARTTLS for one client (Srv_Features: S), a client that must show a
// certificate before MAIL (TLS_Clt: VERIFY).
func TestPeerTLSRules(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	sk := startSink(t)
	ca := audittest.NewCA(t)
	other := audittest.NewCA(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	cert, key := ca.IssueClient(t, dir, time.Now().Add(time.Hour), "relay.partner.example")
	os.Chmod(key, 0o644)
	strangerDir := t.TempDir()
	os.Chmod(strangerDir, 0o755)
	strangerCert, strangerKey := other.IssueClient(t, strangerDir, time.Now().Add(time.Hour), "relay.partner.example")
	os.Chmod(strangerKey, 0o644)
	caFile := filepath.Join(dir, "clients-ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o644)
	maps := mapsDir(t, map[string]string{"access": "Srv_Features:127.0.0.2 S\nTLS_Clt:127.0.0.3 VERIFY\nCERTISSUER:/CN=postern+20test+20CA RELAY\n"})
	dns := dnstest.Start(t, dnstest.Zone{"remote.example. A": {"127.0.0.1"}})
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.9/32"}, MapsDir: maps,
		TLS: fmt.Sprintf("client_ca_file = %q\n", caFile), Extra: relayConfig(dns.Addr, sk.Port, "")})
	s.start()
	run := func(src string, args ...string) (string, error) {
		all := append([]string{"--server", s.MTA, "--local-interface", src, "--ehlo", "client.test",
			"--from", "someone@partner.example", "--to", "bob@remote.example"}, args...)
		out, err := exec.Command(swaks, all...).CombinedOutput()
		return string(out), err
	}
	withCert := []string{"--tls", "--tls-cert", cert, "--tls-key", key}
	if out, err := run("127.0.0.1", withCert...); err != nil {
		t.Fatalf("relay with a verified client certificate refused: %v\n%s\n%s", err, out, s.logs())
	}
	if got := sk.wait(t, 1, 20*time.Second); len(got) != 1 {
		t.Fatalf("relayed by certificate: %d messages\n%s", len(got), s.logs())
	}
	if !strings.Contains(s.logs(), `client certificate verified conn=`) || !strings.Contains(s.logs(), `issuer="/CN=postern test CA"`) {
		t.Errorf("the verified certificate is not logged:\n%s", s.logs())
	}
	for name, args := range map[string][]string{
		"no certificate":       {"--tls"},
		"another CA's":         {"--tls", "--tls-cert", strangerCert, "--tls-key", strangerKey},
		"certificate, no TLS?": {},
	} {
		out, err := run("127.0.0.1", append(args, "--quit-after", "RCPT")...)
		if err == nil || !strings.Contains(out, "* 550 5.7.1") {
			t.Errorf("%s: relayed or not refused at RCPT: %v\n%s", name, err, out[max(0, len(out)-600):])
		}
	}
	// Srv_Features: S: no STARTTLS for this client.
	out, _ := run("127.0.0.2", "--quit-after", "EHLO")
	if strings.Contains(out, "STARTTLS") {
		t.Errorf("STARTTLS offered to a client with Srv_Features: S:\n%s", out)
	}
	if out, _ := run("127.0.0.1", "--quit-after", "EHLO"); !strings.Contains(out, "STARTTLS") {
		t.Errorf("STARTTLS not offered to other clients:\n%s", out)
	}
	// TLS_Clt: VERIFY: MAIL waits for a verified certificate.
	out, err := run("127.0.0.3", "--tls", "--quit-after", "MAIL")
	if err == nil || !strings.Contains(out, "* 450 4.7.0") {
		t.Errorf("TLS_Clt VERIFY without a certificate: %v\n%s", err, out)
	}
	if out, err := run("127.0.0.3", append(withCert, "--quit-after", "MAIL")...); err != nil {
		t.Errorf("TLS_Clt VERIFY with a certificate: %v\n%s", err, out)
	}
}
