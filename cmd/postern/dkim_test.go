package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"postern/internal/dnstest"
)

func TestDkimKeygenAndStatus(t *testing.T) {
	data := t.TempDir()
	var out, errb bytes.Buffer
	if rc := dkimCmd([]string{"keygen", "-domain", "Example.ORG", "-selector", "s1", "-data-dir", data}, &out, &errb); rc != 0 {
		t.Fatalf("keygen rsa: %d %s", rc, errb.String())
	}
	key := filepath.Join(data, "dkim", "example.org", "s1.key")
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	for _, d := range []string{filepath.Join(data, "dkim"), filepath.Join(data, "dkim", "example.org")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("dir %s: %v %v", d, fi, err)
		}
	}
	// The record is printed as zone-file strings of at most 255 bytes.
	text := out.String()
	if !strings.Contains(text, "s1._domainkey.example.org. IN TXT (") {
		t.Fatalf("no record name:\n%s", text)
	}
	var parts []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(text, -1) {
		if len(m[1]) > 255 {
			t.Fatalf("string of %d bytes", len(m[1]))
		}
		parts = append(parts, m[1])
	}
	rsaRec := strings.Join(parts, "")
	if !strings.HasPrefix(rsaRec, "v=DKIM1; k=rsa; p=") || len(parts) < 2 {
		t.Fatalf("record %q", rsaRec)
	}

	out.Reset()
	if rc := dkimCmd([]string{"keygen", "-domain", "example.org", "-selector", "e1", "-algo", "ed25519", "-data-dir", data}, &out, &errb); rc != 0 {
		t.Fatalf("keygen ed25519: %d %s", rc, errb.String())
	}
	edRec := regexp.MustCompile(`"([^"]*)"`).FindStringSubmatch(out.String())[1]
	if rc := dkimCmd([]string{"keygen", "-domain", "example.org", "-selector", "s1", "-data-dir", data}, &out, &errb); rc == 0 {
		t.Fatal("keygen overwrote a selector")
	}

	// Only the RSA record is published, and it is right; the Ed25519
	// one is missing.
	srv := dnstest.Start(t, dnstest.Zone{"s1._domainkey.example.org TXT": {rsaRec}})
	out.Reset()
	rc := dkimCmd([]string{"status", "-data-dir", data, "-dns", srv.Addr, "-activate-after", "0s"}, &out, &errb)
	text = out.String()
	if rc != 1 || !strings.Contains(text, "example.org: signs today with s1 (rsa), e1 (ed25519)") ||
		!regexp.MustCompile(`s1 +rsa +active .* DNS ok`).MatchString(text) ||
		!regexp.MustCompile(`e1 +ed25519 +active .* DNS missing`).MatchString(text) {
		t.Fatalf("status rc %d:\n%s", rc, text)
	}
	if err := srv.Set(dnstest.Zone{"s1._domainkey.example.org TXT": {rsaRec}, "e1._domainkey.example.org TXT": {edRec}}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if rc := dkimCmd([]string{"status", "-data-dir", data, "-dns", srv.Addr, "-activate-after", "0s"}, &out, &errb); rc != 0 {
		t.Fatalf("status with both records: %d\n%s", rc, out.String())
	}
	// With the default delay, the new selectors are pending.
	out.Reset()
	dkimCmd([]string{"status", "-data-dir", data, "-dns", srv.Addr}, &out, &errb)
	if !strings.Contains(out.String(), "not signing today") || !strings.Contains(out.String(), "pending") {
		t.Fatalf("default delay:\n%s", out.String())
	}
	for _, bad := range [][]string{
		{"keygen", "-domain", "example.org", "-data-dir", data},
		{"keygen", "-domain", "../x", "-selector", "a", "-data-dir", data},
		{"keygen", "-domain", "example.org", "-selector", "a", "-algo", "dsa", "-data-dir", data},
		{"frob"},
	} {
		if rc := dkimCmd(bad, &out, &errb); rc == 0 {
			t.Errorf("%v accepted", bad)
		}
	}
}
