package dnsrecords

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// writeKeys writes keys as 'postern dkim keygen' does: dir/domain/selector.key.
func writeKeys(t *testing.T, dir, domain string) (rsaKey *rsa.PrivateKey, edKey ed25519.PrivateKey) {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, domain), 0o700)
	write := func(name, typ string, der []byte) {
		b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, domain, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	write("r2026.key", "PRIVATE KEY", der)
	der, _ = x509.MarshalPKCS8PrivateKey(edKey)
	write("e2026.key", "PRIVATE KEY", der)
	write("old.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))
	os.WriteFile(filepath.Join(dir, domain, "notes.txt"), []byte("not a key"), 0o600)
	return rsaKey, edKey
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir, "example.org")
	keys, err := LoadDKIMKeys(dir, "example.org")
	if err != nil || len(keys) != 3 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	recs, err := Build(Options{Domain: "Example.ORG.", MXHost: "mx1.example.org", DKIMKeys: keys,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("2001:db8::25")}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.Purpose+" "+r.Name] = r.Value
	}
	for k, want := range map[string]string{
		"MX example.org":                                              "10 mx1.example.org.",
		"SPF example.org":                                             "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 -all",
		"DMARC _dmarc.example.org":                                    "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.org",
		"TLSRPT _smtp._tls.example.org":                               "v=TLSRPTv1; rua=mailto:tls-reports@example.org",
		"MTA-STS _mta-sts.example.org":                                "v=STSv1; id=",
		"DKIM e2026._domainkey.example.org":                           "v=DKIM1; k=ed25519; p=",
		"DKIM r2026._domainkey.example.org":                           "v=DKIM1; k=rsa; p=MIIBIjAN",
		"MTA-STS https://mta-sts.example.org/.well-known/mta-sts.txt": "version: STSv1\nmode: testing\nmx: mx1.example.org\nmax_age: 86400\n",
	} {
		if !strings.HasPrefix(got[k], want) {
			t.Errorf("%s = %q, want %q...", k, got[k], want)
		}
	}
	if got["DKIM old._domainkey.example.org"] != got["DKIM r2026._domainkey.example.org"] {
		t.Error("PKCS#1 and PKCS#8 forms of one key give different records")
	}
	// Without addresses SPF uses the mx mechanism; without keys DKIM says what to do.
	recs, _ = Build(Options{Domain: "example.net", MXHost: "mx.example.net"})
	for _, r := range recs {
		if r.Purpose == "SPF" && r.Value != "v=spf1 mx -all" {
			t.Errorf("SPF %q", r.Value)
		}
		if r.Purpose == "DKIM" && (r.Value != "" || !strings.Contains(r.Note, "postern dkim keygen")) {
			t.Errorf("DKIM without key: %+v", r)
		}
	}
	for _, bad := range []Options{{Domain: "", MXHost: "mx"}, {Domain: "localhost", MXHost: "mx"}, {Domain: "a b.org", MXHost: "mx"}, {Domain: "example.org"}} {
		if _, err := Build(bad); err == nil {
			t.Errorf("Build(%+v) accepted", bad)
		}
	}
	// Long TXT data is split into 255-byte strings.
	for _, r := range recs {
		if r.Purpose == "DMARC" && !strings.HasPrefix(r.ZoneLine(), "_dmarc.example.net.\t3600\tIN\tTXT\t\"v=DMARC1;") {
			t.Errorf("zone line %q", r.ZoneLine())
		}
	}
	long := Record{Name: "x.example", Type: "TXT", Value: strings.Repeat("a", 300)}
	if zl := long.ZoneLine(); !strings.Contains(zl, `" "`) || strings.Count(zl, `"`) != 4 {
		t.Errorf("long zone line %q", zl)
	}
}

func TestPublicKeyFromPEMErrors(t *testing.T) {
	for _, in := range []string{"", "junk", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := PublicKeyFromPEM([]byte(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
}

// TestDKIMRecordWithDkimpy signs a message with each key using dkimpy
// (python3-dkim) and verifies it against the record we derived: a wrong
// p= would fail verification.
func TestDKIMRecordWithDkimpy(t *testing.T) {
	verify := testenv.LookPath(t, "dkimverify")
	python := interpreter(t, verify)
	dir := t.TempDir()
	rsaKey, edKey := writeKeys(t, dir, "example.org")
	keys, err := LoadDKIMKeys(dir, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	script := `import sys, dkim
key = open(sys.argv[1], 'rb').read()
rec = open(sys.argv[2], 'rb').read()
sel = sys.argv[3].encode()
alg = b'ed25519-sha256' if b'k=ed25519' in rec else b'rsa-sha256'
msg = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: test\r\n\r\nhello\r\n"
sig = dkim.sign(msg, sel, b'example.org', key, signature_algorithm=alg)
ok = dkim.verify(sig + msg, dnsfunc=lambda name, timeout=5: rec)
sys.exit(0 if ok else 1)
`
	for _, k := range keys {
		rec, err := DKIMRecord(k.Public)
		if err != nil {
			t.Fatal(err)
		}
		recPath := filepath.Join(dir, k.Selector+".txt")
		os.WriteFile(recPath, []byte(rec), 0o600)
		keyPath := k.Path
		if strings.Contains(rec, "k=ed25519") {
			// dkimpy takes an Ed25519 private key as the base64 seed.
			keyPath = filepath.Join(dir, "ed.seed")
			os.WriteFile(keyPath, []byte(base64.StdEncoding.EncodeToString(edKey.Seed())), 0o600)
		}
		out, err := exec.Command(python, "-c", script, keyPath, recPath, k.Selector).CombinedOutput()
		if err != nil {
			t.Errorf("selector %s: dkimpy did not verify with %q: %v\n%s", k.Selector, rec, err, out)
		}
	}
	// A record for a different key must fail, so the check can fail.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	wrong, _ := DKIMRecord(&other.PublicKey)
	recPath := filepath.Join(dir, "wrong.txt")
	os.WriteFile(recPath, []byte(wrong), 0o600)
	_ = rsaKey
	if err := exec.Command(python, "-c", script, filepath.Join(dir, "example.org", "r2026.key"), recPath, "r2026").Run(); err == nil {
		t.Error("dkimpy verified against the wrong key")
	}
}

// interpreter returns the Python that runs a script (its #! line), so the
// test uses the Python that has the dkim module.
func interpreter(t *testing.T, script string) string {
	f, err := os.Open(script)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		t.Fatalf("%s has no #! line", script)
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		return testenv.LookPath(t, fields[1])
	}
	return fields[0]
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir, "example.org")
	keys, _ := LoadDKIMKeys(dir, "example.org")
	want, err := Build(Options{Domain: "example.org", MXHost: "mx1.example.org", DKIMKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{}
	for _, r := range want {
		vals[r.Purpose+" "+r.Name] = r.Value
	}
	good := dnstest.Zone{
		"example.org MX":                   {"10 mx1.example.org."},
		"example.org TXT":                  {"v=spf1 mx -all", "google-site-verification=abc"},
		"r2026._domainkey.example.org TXT": {vals["DKIM r2026._domainkey.example.org"]},
		"old._domainkey.example.org TXT":   {vals["DKIM old._domainkey.example.org"]},
		"e2026._domainkey.example.org TXT": {vals["DKIM e2026._domainkey.example.org"]},
		// A stricter policy than the starting point is fine.
		"_dmarc.example.org TXT":     {"v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.org,mailto:x@example.net"},
		"_mta-sts.example.org TXT":   {"v=STSv1; id=20260301"},
		"_smtp._tls.example.org TXT": {"v=TLSRPTv1;rua=mailto:tls-reports@example.org"},
	}
	srv := dnstest.Start(t, good)
	ctx := context.Background()
	if ms := Compare(ctx, srv.Resolver(), "example.org", want); len(ms) != 0 {
		t.Fatalf("mismatches with correct DNS: %v", ms)
	}

	other, _ := rsa.GenerateKey(rand.Reader, 1024)
	otherRec, _ := DKIMRecord(&other.PublicKey)
	bad := dnstest.Zone{
		"example.org MX":                   {"10 old-mx.example.org."},
		"example.org TXT":                  {"v=spf1 mx -all", "v=spf1 a -all"},
		"r2026._domainkey.example.org TXT": {otherRec},
		"old._domainkey.example.org TXT":   {"v=DKIM1; k=rsa; p="},
		"_dmarc.example.org TXT":           {"v=DMARC1; p=none; rua=mailto:someone@example.net"},
		"_mta-sts.example.org SERVFAIL":    {""},
		"_smtp._tls.example.org TXT":       {"v=TLSRPTv1; rua=mailto:other@example.org"},
	}
	if err := srv.Set(bad); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range Compare(ctx, srv.Resolver(), "example.org", want) {
		got[m.Want.Purpose+" "+m.Want.Name] = m.Problem
	}
	for k, want := range map[string]string{
		"MX example.org":                    "no MX record points to mx1.example.org",
		"SPF example.org":                   "several records",
		"DKIM r2026._domainkey.example.org": "not the key on disk",
		"DKIM old._domainkey.example.org":   "empty (revoked)",
		"DKIM e2026._domainkey.example.org": "missing",
		"DMARC _dmarc.example.org":          "rua does not include mailto:dmarc-reports@example.org",
		"MTA-STS _mta-sts.example.org":      "lookup failed",
		"TLSRPT _smtp._tls.example.org":     "differs",
	} {
		if !strings.Contains(got[k], want) {
			t.Errorf("%s: problem %q, want %q", k, got[k], want)
		}
	}
	if len(got) != 8 {
		t.Errorf("%d mismatches: %v", len(got), got)
	}
}

func FuzzPublicKeyFromPEM(f *testing.F) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ed)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := PublicKeyFromPEM(b)
		if err != nil {
			return
		}
		if _, err := DKIMRecord(pub); err != nil {
			t.Fatalf("key parsed but no record: %v", err)
		}
	})
}
