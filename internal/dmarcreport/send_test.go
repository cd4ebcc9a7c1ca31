package dmarcreport

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"postern/internal/dmarc"
	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// reportFixture evaluates a few messages against real DNS (loopback) and
// records them, as the inbound path does.
func reportFixture(t *testing.T, zone dnstest.Zone, at time.Time) (*FileBackend, *dnstest.Server) {
	t.Helper()
	srv := dnstest.Start(t, zone)
	b, err := NewFileBackend(t.TempDir(), testLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	msgs := []dmarc.Input{
		{FromDomain: "example.com", SPFResult: "pass", SPFDomain: "example.com", SourceIP: netip.MustParseAddr("192.0.2.1"), EnvelopeFrom: "example.com",
			DKIM: []dmarc.DKIMResult{{Domain: "example.com", Selector: "s1", Result: "pass"}}},
		{FromDomain: "example.com", SPFResult: "pass", SPFDomain: "example.com", SourceIP: netip.MustParseAddr("192.0.2.1"), EnvelopeFrom: "example.com",
			DKIM: []dmarc.DKIMResult{{Domain: "example.com", Selector: "s1", Result: "pass"}}},
		{FromDomain: "example.com", SPFResult: "fail", SPFDomain: "spoof.test", SourceIP: netip.MustParseAddr("2001:db8::25"), EnvelopeFrom: "spoof.test"},
		{FromDomain: "news.example.com", SPFResult: "softfail", SPFDomain: "news.example.com", SourceIP: netip.MustParseAddr("198.51.100.7"),
			Local: dmarc.LocalPolicy{TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}},
		{FromDomain: "other.org", SPFResult: "pass", SPFDomain: "other.org", SourceIP: netip.MustParseAddr("203.0.113.5"), SPFScope: "helo"},
		{FromDomain: "norua.net", SPFResult: "fail", SourceIP: netip.MustParseAddr("203.0.113.6")},
		{FromDomain: "nodmarc.net", SPFResult: "pass", SourceIP: netip.MustParseAddr("203.0.113.7")},
	}
	for i, in := range msgs {
		res := dmarc.Evaluate(ctx, srv.Resolver(), testLog(), in)
		if err := b.Append(ctx, NewEvaluation(at.Add(time.Duration(i)*time.Minute), in, res)); err != nil {
			t.Fatal(err)
		}
	}
	return b, srv
}

func TestBuildReports(t *testing.T) {
	zone := dnstest.Zone{
		"_dmarc.example.com TXT": {"v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@example.com,mailto:agg@reports.test!1k,mailto:big@reports.test,mailto:no@unauth.test"},
		"_dmarc.other.org TXT":   {"v=DMARC1; p=none; rua=mailto:dmarc@mail.other.org"},
		"_dmarc.norua.net TXT":   {"v=DMARC1; p=quarantine"},
		// RFC 7489 7.1: reports.test accepts reports for example.com; unauth.test does not.
		"example.com._report._dmarc.reports.test TXT": {"v=DMARC1"},
		"example.com._report._dmarc.unauth.test TXT":  {"v=spf1 -all"},
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b, srv := reportFixture(t, zone, day.Add(10*time.Hour))
	rep, err := NewReporter(b, srv.Resolver(), testLog(), ReporterOptions{
		ReceiverDomain: "mx.receiver.test", From: "dmarc-reports@mx.receiver.test",
		Now: func() time.Time { return day.Add(24*time.Hour + 5*time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	msgs := tick(t, rep, nil)
	var got []string
	for _, m := range msgs {
		got = append(got, m.PolicyDomain+" "+strings.Join(m.To, ","))
	}
	// agg@reports.test has a 1 KiB limit: the message is larger, so it is skipped.
	want := []string{"example.com dmarc@example.com", "example.com big@reports.test", "other.org dmarc@mail.other.org"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("reports to %q, want %q", got, want)
	}
	// The period is done: a second tick sends nothing.
	if again := tick(t, rep, nil); len(again) != 0 {
		t.Fatalf("second tick: %d messages", len(again))
	}

	m := msgs[0]
	if len(m.Data) <= 1024 {
		t.Fatalf("report message is only %d bytes; the size-limit case tests nothing", len(m.Data))
	}
	if m.From != "dmarc-reports@mx.receiver.test" {
		t.Errorf("sender %q", m.From)
	}
	ent, err := message.Read(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	subj := ent.Header.Get("Subject")
	if want := "Report Domain: example.com Submitter: mx.receiver.test Report-ID: <example.com."; !strings.HasPrefix(subj, want) {
		t.Errorf("subject %q", subj)
	}
	if mt, _, _ := ent.Header.ContentType(); mt != "multipart/mixed" {
		t.Errorf("content type %q", mt)
	}
	begin, end := day.Unix(), day.Add(24*time.Hour).Unix()-1
	wantName := fmt.Sprintf("mx.receiver.test!example.com!%d!%d.xml.gz", begin, end)
	var names []string
	ent.Walk(func(_ []int, e *message.Entity, _ error) error {
		if _, p, err := e.Header.ContentDisposition(); err == nil && p["filename"] != "" {
			names = append(names, p["filename"])
		}
		return nil
	})
	if len(names) != 1 || names[0] != wantName {
		t.Errorf("attachment file names %q, want %q", names, wantName)
	}

	// Our own parser reads it back with the right content.
	fs, err := ExtractReports(m.Data)
	if err != nil || len(fs) != 1 {
		t.Fatalf("reading back: %v", err)
	}
	f := fs[0]
	if f.Policy.Domain != "example.com" || f.Policy.P != "reject" || f.Policy.SP != "quarantine" ||
		int64(f.Metadata.DateRange.Begin) != begin || int64(f.Metadata.DateRange.End) != end {
		t.Errorf("read back %+v %+v", f.Policy, f.Metadata)
	}
	s := Summarize(day, fs)
	if s.Total.Messages != 4 || s.Total.Pass != 2 || s.Total.Fail != 2 || s.Total.Rejected != 1 || len(s.BySource) != 3 {
		t.Errorf("summary of generated report: %+v", s)
	}
	var trusted bool
	for _, r := range f.Records {
		if r.Row.SourceIP == "2001:db8:0:0:0:0:0:25" && r.Row.PolicyEvaluated.Disposition != "reject" {
			t.Errorf("spoofed row: %+v", r.Row)
		}
		for _, re := range r.Row.PolicyEvaluated.Reasons {
			trusted = trusted || re.Type == "trusted_forwarder"
		}
	}
	if !trusted {
		t.Error("trusted_forwarder reason missing")
	}
}

// TestReportSchema validates every generated report against the RFC 7489
// Appendix C schema with xmllint.
func TestReportSchema(t *testing.T) {
	xmllint := testenv.LookPath(t, "xmllint")
	xsd := fixedSchema(t, filepath.Join(testenv.SharedTestdata(t, "dmarc", "schema", "rfc7489"), "rua-schema.xsd"))
	zone := dnstest.Zone{
		"_dmarc.example.com TXT": {"v=DMARC1; p=reject; sp=quarantine; adkim=s; rua=mailto:dmarc@example.com"},
		"_dmarc.other.org TXT":   {"v=DMARC1; p=none; pct=50; fo=1; rua=mailto:dmarc@other.org"},
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b, srv := reportFixture(t, zone, day.Add(time.Hour))
	rep, err := NewReporter(b, srv.Resolver(), testLog(), ReporterOptions{ReceiverDomain: "mx.receiver.test",
		From: "dmarc-reports@mx.receiver.test", ExtraContactInfo: "https://receiver.test/dmarc"})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := rep.Build(context.Background(), day, day.Add(24*time.Hour))
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	dir := t.TempDir()
	for i, m := range msgs {
		doc := attachedXML(t, m.Data)
		p := filepath.Join(dir, fmt.Sprintf("r%d.xml", i))
		os.WriteFile(p, doc, 0o600)
		out, err := exec.Command(xmllint, "--noout", "--schema", xsd, p).CombinedOutput()
		if err != nil {
			t.Errorf("report %d for %s does not validate: %v\n%s\n%s", i, m.PolicyDomain, err, out, doc)
		}
	}
	// And a broken document is refused, so the check can fail.
	bad := filepath.Join(dir, "bad.xml")
	os.WriteFile(bad, []byte(`<dmarc:feedback xmlns:dmarc="`+Namespace+`"><version>1.0</version></dmarc:feedback>`), 0o600)
	if err := exec.Command(xmllint, "--noout", "--schema", xsd, bad).Run(); err == nil {
		t.Error("xmllint accepted an incomplete report")
	}
}

// fixedSchema copies the Appendix C schema with the one correction it
// needs to compile: as printed in RFC 7489 it refers to its own types
// (type="DateRangeType") without binding their namespace, which a
// validator rejects ("References from this schema to components in no
// namespace are not allowed"). Binding the default namespace to the
// target namespace is the fix; nothing else changes (child elements stay
// unqualified).
func fixedSchema(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const target = `targetNamespace="` + Namespace + `"`
	if !bytes.Contains(b, []byte(target)) {
		t.Fatalf("%s: no %s", path, target)
	}
	b = bytes.Replace(b, []byte(target), []byte(target+` xmlns="`+Namespace+`"`), 1)
	p := filepath.Join(t.TempDir(), "rua-schema.xsd")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// attachedXML returns the gunzipped report attached to a message, exactly
// as sent.
func attachedXML(t *testing.T, msg []byte) []byte {
	t.Helper()
	ent, err := message.Read(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	var doc []byte
	ent.Walk(func(_ []int, e *message.Entity, _ error) error {
		if mt, _, _ := e.Header.ContentType(); mt == "application/gzip" {
			zr, err := gzip.NewReader(e.Body)
			if err != nil {
				t.Fatal(err)
			}
			doc, err = io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if doc == nil {
		t.Fatal("no application/gzip part")
	}
	return doc
}

func TestReporterRun(t *testing.T) {
	zone := dnstest.Zone{"_dmarc.example.com TXT": {"v=DMARC1; p=reject; rua=mailto:dmarc@example.com"}}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b, srv := reportFixture(t, zone, day.Add(time.Hour))
	// An old day file that Run prunes.
	old := filepath.Join(b.dir, "2026-01-01.jsonl")
	os.WriteFile(old, []byte("{}\n"), 0o600)
	rep, err := NewReporter(b, srv.Resolver(), testLog(), ReporterOptions{ReceiverDomain: "mx.receiver.test",
		From: "dmarc-reports@mx.receiver.test", Now: func() time.Time { return day.Add(25 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var sent []Outgoing
	err = rep.Run(ctx, func(_ context.Context, m Outgoing) error {
		sent = append(sent, m)
		cancel()
		return nil
	})
	if err != context.Canceled || len(sent) != 1 || sent[0].To[0] != "dmarc@example.com" {
		t.Fatalf("Run: %v, sent %d", err, len(sent))
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("old evaluations not pruned: %v", err)
	}
	if _, err := NewReporter(b, srv.Resolver(), testLog(), ReporterOptions{ReceiverDomain: "x.test", From: "not an address"}); err == nil {
		t.Error("bad report_from accepted")
	}
	if _, err := NewReporter(b, srv.Resolver(), testLog(), ReporterOptions{ReceiverDomain: "x.test", From: "a@x.test", Interval: 30 * time.Second}); err == nil {
		t.Error("half-minute interval accepted")
	}
}

// TestBuildReportsOverride checks RFC 7489 7.1's override for aggregate
// reports: the destination's verification record may name other rua
// mailboxes on its own host, and naming any other host stops the report.
func TestBuildReportsOverride(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, verify string
		want         []string
	}{
		{"no override", "v=DMARC1", []string{"agg@reports.test"}},
		{"override on the same host", "v=DMARC1; rua=mailto:one@reports.test,mailto:two@reports.test", []string{"one@reports.test", "two@reports.test"}},
		{"ruf override only", "v=DMARC1; ruf=mailto:f@reports.test", []string{"agg@reports.test"}},
		{"override to another host", "v=DMARC1; rua=mailto:one@reports.test,mailto:x@elsewhere.test", nil},
		{"override larger than its limit", "v=DMARC1; rua=mailto:small@reports.test!1k", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			zone := dnstest.Zone{
				"_dmarc.example.com TXT":                      {"v=DMARC1; p=reject; rua=mailto:agg@reports.test"},
				"example.com._report._dmarc.reports.test TXT": {c.verify},
			}
			b, srv := reportFixture(t, zone, day.Add(10*time.Hour))
			rep, err := NewReporter(b, srv.Resolver(), testLog(), ReporterOptions{ReceiverDomain: "mx.receiver.test",
				From: "dmarc-reports@mx.receiver.test", Now: func() time.Time { return day.Add(25 * time.Hour) }})
			if err != nil {
				t.Fatal(err)
			}
			msgs := tick(t, rep, nil)
			var got []string
			for _, m := range msgs {
				if m.PolicyDomain == "example.com" {
					got = append(got, m.To...)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("sent to %q, want %q", got, c.want)
			}
		})
	}
}
