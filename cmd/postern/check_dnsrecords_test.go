package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/dkim"
	"postern/internal/dnstest"
	"postern/internal/publish"
	"postern/internal/testenv"
)

// check -dns-records reports each record a local domain lacks, and is
// content once DNS holds what dns-records prints.
func TestCheckDNSRecords(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"mx.example.org A": {"192.0.2.25"}})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	testenv.WriteFile(t, cfgPath, fmt.Sprintf("hostname = \"mx.example.org\"\nuser = \"nobody\"\ndata_dir = \"data\"\nlocal_domains = [\"example.org\"]\n"+
		"[[listener]]\naddress = \"127.0.0.1:2525\"\nmode = \"mta\"\n[dns]\nservers = [%q]\n[dmarc]\nreport_inbox = \"reports@example.org\"\n", srv.Addr), 0o600)
	run := func() (int, string, string) {
		var out, errw bytes.Buffer
		code := checkDNSRecords(&out, &errw, cfgPath)
		return code, out.String(), errw.String()
	}
	code, _, errs := run()
	if code != 1 || !strings.Contains(errs, "example.org: DNS: DMARC _dmarc.example.org TXT: missing") ||
		!strings.Contains(errs, "example.org: DNS: MX example.org MX: no MX record points to mx.example.org") {
		t.Fatalf("empty zone: code %d\n%s", code, errs)
	}

	// Make a DKIM key, then publish what dns-records makes (the rua is
	// the report inbox).
	_, pemKey, err := dkim.GenerateKey(dkim.AlgoEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dkim.WriteKey(filepath.Join(dir, "data", "dkim"), "example.org", "s1", pemKey); err != nil {
		t.Fatal(err)
	}
	recs, err := publish.Records(context.Background(), srv.Resolver(), "example.org",
		publish.Settings{DataDir: filepath.Join(dir, "data"), Hostname: "mx.example.org", ReportInbox: "reports@example.org"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	zone := dnstest.Zone{"mx.example.org A": {"192.0.2.25"}}
	for _, r := range recs {
		if r.Type != "FILE" {
			zone[r.Name+" "+r.Type] = append(zone[r.Name+" "+r.Type], r.Value)
		}
		if r.Purpose == "DMARC" && !strings.Contains(r.Value, "rua=mailto:reports@example.org") {
			t.Errorf("DMARC record without the report inbox: %s", r.Value)
		}
	}
	if err := srv.Set(zone); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run(); code != 0 || !strings.Contains(out, "DNS records OK for 1 local domain(s)") {
		t.Errorf("published zone: code %d, %q\n%s", code, out, errs)
	}
}
