package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/dnstest"
)

func TestDNSRecordsCommand(t *testing.T) {
	data := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	os.MkdirAll(filepath.Join(data, "dkim", "example.org"), 0o700)
	os.WriteFile(filepath.Join(data, "dkim", "example.org", "ed1.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)

	srv := dnstest.Start(t, dnstest.Zone{"mx1.example.org A": {"192.0.2.25"}})
	out, rc := captureStdout(t, runDNSRecords, "-domain", "example.org", "-mx", "mx1.example.org", "-data-dir", data, "-dns", srv.Addr)
	if rc != 0 {
		t.Fatalf("rc %d\n%s", rc, out)
	}
	for _, want := range []string{
		"example.org.\t3600\tIN\tMX\t10 mx1.example.org.",
		`example.org.	3600	IN	TXT	"v=spf1 ip4:192.0.2.25 -all"`,
		`ed1._domainkey.example.org.	3600	IN	TXT	"v=DKIM1; k=ed25519; p=`,
		`_dmarc.example.org.	3600	IN	TXT	"v=DMARC1; p=none; rua=mailto:dmarc-reports@example.org"`,
		`_mta-sts.example.org.	3600	IN	TXT	"v=STSv1; id=`,
		";   mode: testing",
		`_smtp._tls.example.org.	3600	IN	TXT	"v=TLSRPTv1; rua=mailto:tls-reports@example.org"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// -check against a zone holding only the MX: everything else is missing.
	out, rc = captureStdout(t, runDNSRecords, "-domain", "example.org", "-mx", "mx1.example.org", "-data-dir", data, "-dns", srv.Addr, "-check")
	if rc != 1 || !strings.Contains(out, "MISMATCH DMARC _dmarc.example.org TXT: missing") {
		t.Errorf("check rc %d:\n%s", rc, out)
	}
	if _, rc := captureStdout(t, runDNSRecords, "-data-dir", data); rc != 2 {
		t.Errorf("without -domain: rc %d", rc)
	}
}

// captureStdout runs a command function with stdout captured.
func captureStdout(t *testing.T, f func([]string) int, args ...string) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	rc := f(args)
	os.Stdout = old
	w.Close()
	return <-done, rc
}
