package dkimkeys

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"postern/internal/dkim"
	"postern/internal/dnstest"
)

func TestKeygenAndStatus(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dkim")
	k := &Keys{Dir: dir}
	var out bytes.Buffer
	if err := k.Keygen("example.org", "s1", dkim.AlgoRSA, &out); err != nil {
		t.Fatalf("keygen rsa: %v", err)
	}
	key := filepath.Join(dir, "example.org", "s1.key")
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "example.org")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("dir %s: %v %v", d, fi, err)
		}
	}
	// The record is printed as zone-file strings of at most 255 bytes.
	text := out.String()
	if !strings.Contains(text, "Wrote "+key+" (rsa, mode 0600).") || !strings.Contains(text, "s1._domainkey.example.org. IN TXT (") {
		t.Fatalf("keygen output:\n%s", text)
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
	if err := k.Keygen("example.org", "e1", dkim.AlgoEd25519, &out); err != nil {
		t.Fatalf("keygen ed25519: %v", err)
	}
	edRec := regexp.MustCompile(`"([^"]*)"`).FindStringSubmatch(out.String())[1]
	if err := k.Keygen("example.org", "s1", dkim.AlgoRSA, &out); err == nil || IsUsage(err) {
		t.Fatalf("keygen overwrote a selector: %v", err)
	}

	// Only the RSA record is published, and it is right; the Ed25519
	// one is missing.
	srv := dnstest.Start(t, dnstest.Zone{"s1._domainkey.example.org TXT": {rsaRec}})
	k.Resolver = srv.Resolver()
	out.Reset()
	ok, err := k.Status(context.Background(), &out)
	text = out.String()
	if err != nil || ok || !strings.Contains(text, "example.org: signs today with s1 (rsa), e1 (ed25519)") ||
		!regexp.MustCompile(`s1 +rsa +active .* DNS ok`).MatchString(text) ||
		!regexp.MustCompile(`e1 +ed25519 +active .* DNS missing`).MatchString(text) {
		t.Fatalf("status %v %v:\n%s", ok, err, text)
	}
	if err := srv.Set(dnstest.Zone{"s1._domainkey.example.org TXT": {rsaRec}, "e1._domainkey.example.org TXT": {edRec}}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if ok, err := k.Status(context.Background(), &out); !ok || err != nil {
		t.Fatalf("status with both records: %v %v\n%s", ok, err, out.String())
	}
	// With the default delay, the new selectors are pending.
	k.ActivateAfter = dkim.DefaultActivateAfter
	out.Reset()
	k.Status(context.Background(), &out)
	if !strings.Contains(out.String(), "not signing today") || !strings.Contains(out.String(), "pending") {
		t.Fatalf("default delay:\n%s", out.String())
	}
}

func TestKeygenUsage(t *testing.T) {
	k := &Keys{Dir: t.TempDir()}
	for _, c := range [][3]string{
		{"example.org", "", dkim.AlgoRSA},
		{"../x", "a", dkim.AlgoRSA},
		{"example.org", "a.b", dkim.AlgoRSA},
		{"example.org", "a", "dsa"},
	} {
		if err := k.Keygen(c[0], c[1], c[2], &bytes.Buffer{}); !IsUsage(err) {
			t.Errorf("%q: %v", c, err)
		}
	}
}

func TestStatusWithoutKeys(t *testing.T) {
	var out bytes.Buffer
	k := &Keys{Dir: filepath.Join(t.TempDir(), "none")}
	if ok, err := k.Status(context.Background(), &out); !ok || err != nil || !strings.Contains(out.String(), "No DKIM keys in") {
		t.Errorf("%v %v %q", ok, err, out.String())
	}
}

// status names the gate that holds each selector; activate opens them.
func TestStatusGates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dkim")
	k := &Keys{Dir: dir} // activate_after 0: only the DNS gate holds
	recs := map[string]string{}
	for _, sel := range []string{"s1", "s2"} {
		var out bytes.Buffer
		if err := k.Keygen("example.org", sel, dkim.AlgoEd25519, &out); err != nil {
			t.Fatal(err)
		}
		recs[sel] = regexp.MustCompile(`"([^"]*)"`).FindStringSubmatch(out.String())[1]
	}
	srv := dnstest.Start(t, dnstest.Zone{"s1._domainkey.example.org TXT": {recs["s1"]}})
	k.Resolver = srv.Resolver()
	status := func(want ...string) {
		t.Helper()
		var out bytes.Buffer
		if ok, err := k.Status(context.Background(), &out); !ok || err != nil {
			t.Errorf("status %v %v", ok, err)
		}
		for _, w := range want {
			if !regexp.MustCompile(w).MatchString(out.String()) {
				t.Errorf("status lacks %q:\n%s", w, out.String())
			}
		}
	}
	status(`s1 +ed25519 +active +signing since \S+ +DNS ok`,
		`s2 +ed25519 +pending +waiting for its DNS record \(not published: s2._domainkey.example.org\)`)
	if err := srv.Set(dnstest.Zone{"s1._domainkey.example.org TXT": {recs["s1"]}, "s2._domainkey.example.org TXT": {recs["s1"]}}); err != nil {
		t.Fatal(err)
	}
	status(`s2 +ed25519 +pending +waiting for its DNS record \(different key: p= is a different key\)`)
	if err := srv.Set(dnstest.Zone{"s1._domainkey.example.org TXT": {recs["s1"]}, "s2._domainkey.example.org TXT": {recs["s2"]}}); err != nil {
		t.Fatal(err)
	}
	status(`s2 +ed25519 +pending +waiting for the server's next DNS check \(the record matches\)`)

	var out, errb bytes.Buffer
	if rc := k.Run(context.Background(), "activate", Request{Domain: "Example.org.", Selector: "s2", Force: true}, &out, &errb); rc != 0 ||
		!strings.Contains(out.String(), "example.org: selector s2: forced, signing since") {
		t.Fatalf("activate: %d %s%s", rc, out.String(), errb.String())
	}
	status(`s1 +ed25519 +retired +retired, made`, `s2 +ed25519 +active +forced, signing since`)

	k.ActivateAfter = dkim.DefaultActivateAfter
	if err := k.Keygen("example.org", "s3", dkim.AlgoEd25519, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	status(`s3 +ed25519 +pending +waiting for activate_after until `)
	out.Reset()
	if rc := k.Run(context.Background(), "activate", Request{Domain: "example.org", Selector: "s3"}, &out, &errb); rc != 0 ||
		!strings.Contains(out.String(), "takes over once its DNS record s3._domainkey.example.org matches") {
		t.Fatalf("activate without -force: %d %s%s", rc, out.String(), errb.String())
	}
	status(`s3 +ed25519 +pending +waiting for its DNS record \(not published`)
	for req, want := range map[Request]int{
		{Domain: "example.org"}:                 2,
		{Domain: "../x", Selector: "s1"}:        2,
		{Domain: "example.org", Selector: "s9"}: 1,
		{Domain: "example.net", Selector: "s1"}: 1,
	} {
		if rc := k.Run(context.Background(), "activate", req, &out, &errb); rc != want {
			t.Errorf("%+v: exit %d, want %d", req, rc, want)
		}
	}
}
