package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/audit/audittest"
	"postern/internal/dnstest"
)

// TestAuditPostern runs `postern audit` (the binary) against `postern
// serve` on loopback, with a CA-signed certificate and a good DNS zone:
// every relay probe must be refused and the hardening checks pass.
func TestAuditPostern(t *testing.T) {
	bin := audittest.Binary(t)
	audittest.RequireCommand(t, bin, "serve")
	dir := t.TempDir()
	audittest.OpenTraversal(t, dir)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	audittest.ChownRunAs(t, data)
	ca := audittest.NewCA(t)
	cert, key := ca.Issue(t, dir, time.Now().Add(90*24*time.Hour), "mx.example.test")
	caFile := filepath.Join(dir, "ca.pem")
	write(t, caFile, string(ca.PEM))

	// The server listens on 127.0.0.5 and trusts only 127.0.0.1; the
	// audit comes from 127.0.0.2, a stranger.
	// postern resolves only through the loopback DNS server.
	zone := goodZone(t)
	srv := dnstest.Start(t, zone)
	port := func() string { _, p, _ := net.SplitHostPort(audittest.FreePort(t)); return p }
	mta, sub, smtps := "127.0.0.5:"+port(), "127.0.0.5:"+port(), "127.0.0.5:"+port()
	cfg := fmt.Sprintf(`hostname = "mx.example.test"
data_dir = %q
local_domains = ["example.test"]
trusted_networks = ["127.0.0.1/32"]
user = %q

[[listener]]
address = %q
mode = "mta"

[[listener]]
address = %q
mode = "submission"

[[listener]]
address = %q
mode = "smtps"

[tls]
cert = %q
key = %q

[delivery]
mailbox = %q

[dns]
servers = [%q]

[local]
socket = ""
`, data, audittest.RunAs(), mta, sub, smtps, cert, key, filepath.Join(data, "mail", "{domain}", "{user}")+"/", srv.Addr)
	cfgPath := filepath.Join(dir, "postern.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	audittest.Serve(t, bin, cfgPath, mta, sub, smtps)

	_, subPort, _ := net.SplitHostPort(sub)
	args := []string{"audit", mta, "-from", "127.0.0.2", "-submission", subPort, "-json",
		"-dns", srv.Addr, "-domain", "example.test", "-ca", caFile, "-dkim-selector", "s1", "-dnsbl", "bl.test",
		"-smuggling", "-smuggling-rcpt", "postmaster@example.test", "-timeout", "10s"}
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep audit.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("audit output is not JSON (%v):\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if rep.Schema != audit.SchemaVersion {
		t.Errorf("schema %d", rep.Schema)
	}
	var text bytes.Buffer
	rep.WriteText(&text, audit.TextOptions{})
	t.Logf("audit of postern:\n%s", text.String())

	relay := rep.Find("relay.open")
	if relay == nil || relay.Status != audit.Pass {
		t.Fatalf("postern's relay check: %+v", relay)
	}
	for _, p := range relay.Probes {
		if p.Result == "accepted" {
			t.Errorf("postern accepted relay probe %s: %s", p.Name, p.Reply)
		}
	}
	for _, id := range []string{"smtp.banner", "smtp.vrfy", "smtp.expn", "auth.plaintext.mta", "auth.plaintext.submission",
		"tls.starttls.mta", "tls.starttls.submission", "tls.certificate.mta", "tls.certificate.submission",
		"tls.versions.mta", "tls.versions.submission", "auth.mechanisms.submission", "smtp.smuggling",
		"dns.mx", "dns.spf", "dns.dkim.s1", "dns.dmarc", "dns.mta-sts", "dns.tlsrpt", "dns.ptr", "dns.dnsbl"} {
		c := rep.Find(id)
		if c == nil {
			t.Errorf("%s: missing from the report", id)
			continue
		}
		if c.Status != audit.Pass {
			t.Errorf("%s: %s: %s", id, c.Status, c.Detail)
		}
	}
	want := 0
	if rep.Summary.Warn > 0 {
		want = 1
	}
	if rep.Summary.Fail > 0 {
		want = 2
	}
	if code != want {
		t.Errorf("exit status %d, want %d for %+v", code, want, rep.Summary)
	}

	// With -config the audit takes its target, submission port, domain
	// and certificate name from the postern configuration.
	cmd = exec.Command(bin, "audit", "-config", cfgPath, "-from", "127.0.0.2", "-json", "-dns", srv.Addr,
		"-ca", caFile, "-dnsbl", "", "-timeout", "10s")
	out, _ := cmd.Output()
	var rep2 audit.Report
	if err := json.Unmarshal(out, &rep2); err != nil {
		t.Fatalf("audit -config: %v\n%s", err, out)
	}
	if rep2.Target != mta || rep2.Domain != "example.test" {
		t.Errorf("audit -config: target %s domain %s", rep2.Target, rep2.Domain)
	}
	for _, id := range []string{"relay.open", "tls.starttls.submission", "tls.certificate.mta", "dns.spf"} {
		if c := rep2.Find(id); c == nil || c.Status != audit.Pass {
			t.Errorf("audit -config: %s: %+v", id, c)
		}
	}
}
