package publish

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/dkim"
	"postern/internal/dnstest"
)

func TestRecords(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"mx.example.org A": {"192.0.2.25"}, "mail.example.net A": {"127.0.0.1"}})
	data := t.TempDir()
	_, pemKey, err := dkim.GenerateKey(dkim.AlgoEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dkim.WriteKey(filepath.Join(data, "dkim"), "example.org", "s1", pemKey); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var errw bytes.Buffer
	recs, err := Records(ctx, srv.Resolver(), "example.org", Settings{DataDir: data, Hostname: "mx.example.org", ReportInbox: "reports@example.org"}, &errw)
	if err != nil {
		t.Fatal(err)
	}
	var zone bytes.Buffer
	WriteZone(&zone, recs)
	for _, want := range []string{"10 mx.example.org.", `"v=spf1 ip4:192.0.2.25 -all"`, "s1._domainkey.example.org.", "rua=mailto:reports@example.org", "; serve at "} {
		if !strings.Contains(zone.String(), want) {
			t.Errorf("zone lacks %q:\n%s", want, zone.String())
		}
	}
	if errw.Len() != 0 {
		t.Errorf("notes: %s", errw.String())
	}

	// Another selector than the keys on disk: none, and a note on how to
	// make it; a loopback MX address is no SPF address.
	errw.Reset()
	recs, err = Records(ctx, srv.Resolver(), "example.net", Settings{DataDir: data, MX: "mail.example.net", Selector: "s2"}, &errw)
	if err != nil {
		t.Fatal(err)
	}
	zone.Reset()
	WriteZone(&zone, recs)
	if strings.Contains(zone.String(), "_domainkey") || strings.Contains(zone.String(), "ip4:") {
		t.Errorf("zone:\n%s", zone.String())
	}
	if !strings.Contains(errw.String(), "postern dkim keygen -domain example.net -selector s2") {
		t.Errorf("note: %q", errw.String())
	}
}

// Without an MX flag or a qualified host name, the MX host is this host
// (when its name is qualified) or mail.DOMAIN.
func TestRecordsDefaultMX(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{})
	recs, err := Records(context.Background(), srv.Resolver(), "example.org", Settings{DataDir: t.TempDir(), Hostname: "localhost"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := "mail.example.org."
	if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") {
		want = h + "."
	}
	var zone bytes.Buffer
	WriteZone(&zone, recs)
	if !strings.Contains(zone.String(), "10 "+want) {
		t.Errorf("MX is not %s:\n%s", want, zone.String())
	}
}

func TestCheck(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"mx.example.org A": {"192.0.2.25"}})
	var errw bytes.Buffer
	n := Check(context.Background(), srv.Resolver(), []string{"example.org"}, Settings{DataDir: t.TempDir(), Hostname: "mx.example.org"}, &errw)
	if n == 0 || !strings.Contains(errw.String(), "example.org: DNS: DMARC _dmarc.example.org TXT: missing (see postern dns-records -domain example.org)") {
		t.Errorf("%d problems:\n%s", n, errw.String())
	}
}
