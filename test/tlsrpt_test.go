package test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/audit/audittest"
	"postern/internal/dnstest"
	"postern/internal/tlsrpt/tlsrpttest"
)

// tlsReport is one report mail as the rua mailbox got it: its headers,
// the attachment's name and the report's JSON, checked against RFC 8460
// 4.4's schema.
type tlsReport struct {
	header   mail.Header
	filename string
	json     []byte
	doc      struct {
		Policies []struct {
			Policy struct {
				Type   string   `json:"policy-type"`
				Domain string   `json:"policy-domain"`
				String []string `json:"policy-string"`
			} `json:"policy"`
			Summary struct {
				OK     int `json:"total-successful-session-count"`
				Failed int `json:"total-failure-session-count"`
			} `json:"summary"`
			Details []struct {
				Result string `json:"result-type"`
				MXHost string `json:"receiving-mx-hostname"`
				Count  int    `json:"failed-session-count"`
			} `json:"failure-details"`
		} `json:"policies"`
	}
}

// readTLSReport unpacks a report mail from a sink dump (RFC 8460 5.3):
// multipart/report; report-type=tlsrpt, with the gzipped JSON as an
// application/tlsrpt+gzip attachment.
func readTLSReport(t *testing.T, dump string) *tlsReport {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(dump))
	if err != nil {
		t.Fatalf("report mail: %v\n%s", err, dump)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("report mail Content-Type %q (%v)", msg.Header.Get("Content-Type"), err)
	}
	r := &tlsReport{header: msg.Header}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("report mail parts: %v", err)
		}
		if part.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
			continue
		}
		r.filename = part.FileName()
		if enc := part.Header.Get("Content-Transfer-Encoding"); !strings.EqualFold(enc, "base64") {
			t.Errorf("report attachment Content-Transfer-Encoding %q, want base64", enc)
		}
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, part))
		if err != nil {
			t.Fatalf("report attachment: %v", err)
		}
		if r.json, err = io.ReadAll(zr); err != nil {
			t.Fatalf("report attachment: %v", err)
		}
	}
	if r.json == nil {
		t.Fatalf("no application/tlsrpt+gzip part:\n%s", dump)
	}
	if problems := tlsrpttest.Check(r.json); len(problems) > 0 {
		t.Errorf("the report of %s is not RFC 8460's: %v\n%s", msg.Header.Get("TLS-Report-Domain"), problems, r.json)
	}
	if err := json.Unmarshal(r.json, &r.doc); err != nil {
		t.Fatal(err)
	}
	return r
}

// tlsReportsIn are the report mails among the sink's dumps, by policy
// domain.
func tlsReportsIn(t *testing.T, dumps []string) map[string]*tlsReport {
	t.Helper()
	out := map[string]*tlsReport{}
	for _, d := range dumps {
		if strings.Contains(d, "TLS-Report-Domain:") {
			r := readTLSReport(t, d)
			out[r.header.Get("TLS-Report-Domain")] = r
		}
	}
	return out
}

// TLS reports (RFC 8460) of a day with successes and failures reach the
// rua mailbox of each recipient domain's _smtp._tls record once the day
// is over, and only once. Postern delivers, through a Postfix MX, to a
// domain with an enforced MTA-STS policy that lists only its second MX
// (the first is refused: a failure, then a success), to one whose policy
// lists a server with a certificate for another name (a failure), and to
// a DANE domain whose first MX has a TLSA record that does not match (a
// failure, then a success with its second MX). The reports go by mail
// only: an https: rua is posted to public addresses only, never to the
// loopback servers of a test.
func TestTLSRPTReportsSent(t *testing.T) {
	sk := startSink(t)
	ca := audittest.NewCA(t)
	tlsDir := t.TempDir()
	os.Chmod(tlsDir, 0o755)
	cert, key := ca.Issue(t, tlsDir, time.Now().Add(time.Hour), "mx.partner.example", "mx.dane.example", "mx.bad.dane.example")
	os.Chmod(key, 0o644)
	domains := []string{"partner.example", "mismatch.example", "dane.example", "reports.test"}
	pfPort := startPostfixMX(t, "mx.partner.example", cert, key, sk, domains...)
	stsPolicyServer(t, ca, "127.0.0.7:443", map[string]string{
		"mta-sts.partner.example":  "version: STSv1\nmode: enforce\nmx: mx.partner.example\nmax_age: 86400\n",
		"mta-sts.mismatch.example": "version: STSv1\nmode: enforce\nmx: mx.mismatch.example\nmax_age: 86400\n",
	})
	wrong := sha256.Sum256([]byte("another key"))
	const rua = "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test"
	zone := dnstest.Zone{
		"partner.example. MX":                                     {"10 mx.unlisted.partner.example.", "20 mx.partner.example."},
		"mismatch.example. MX":                                    {"10 mx.mismatch.example."},
		"dane.example DNSSEC":                                     {"secure"},
		"dane.example. MX":                                        {"10 mx.bad.dane.example.", "20 mx.dane.example."},
		"reports.test. MX":                                        {"10 mx.partner.example."},
		"_smtp._tls.partner.example. TXT":                         {rua},
		"_smtp._tls.mismatch.example. TXT":                        {rua},
		"_smtp._tls.dane.example. TXT":                            {rua},
		"_mta-sts.partner.example. TXT":                           {"v=STSv1; id=20261207"},
		"_mta-sts.mismatch.example. TXT":                          {"v=STSv1; id=20261207"},
		"mta-sts.partner.example. A":                              {"127.0.0.7"},
		"mta-sts.mismatch.example. A":                             {"127.0.0.7"},
		fmt.Sprintf("_%d._tcp.mx.dane.example. TLSA", pfPort):     {dnstest.TLSA(3, 1, 1, spkiSHA256(t, cert))},
		fmt.Sprintf("_%d._tcp.mx.bad.dane.example. TLSA", pfPort): {dnstest.TLSA(3, 1, 1, wrong[:])},
	}
	for _, mx := range []string{"mx.partner.example", "mx.unlisted.partner.example", "mx.mismatch.example", "mx.dane.example", "mx.bad.dane.example"} {
		zone[mx+". A"] = []string{"127.0.0.1"}
	}
	dns := dnstest.Start(t, zone)
	caFile := filepath.Join(tlsDir, "ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o644)
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, pfPort, fmt.Sprintf("tls_ca_file = %q\n", caFile))})
	s.start()
	relayOne(t, s, "alice@example.test", "bob@partner.example", "Subject: to partner 1\r\n\r\nhi\r\n")
	relayOne(t, s, "alice@example.test", "bob@dane.example", "Subject: to dane\r\n\r\nhi\r\n")
	relayOne(t, s, "alice@example.test", "bob@mismatch.example", "Subject: to mismatch\r\n\r\nhi\r\n")
	relayOne(t, s, "alice@example.test", "carol@partner.example", "Subject: to partner 2\r\n\r\nhi\r\n")
	if got := sk.wait(t, 3, 30*time.Second); len(got) != 3 {
		t.Fatalf("want partner.example's two and dane.example's one delivered, got %d\npostern:\n%s", len(got), s.logs())
	}
	eventually(t, 20*time.Second, "the mismatch.example deferral logged", func() bool {
		return strings.Contains(s.logs(), "mx.mismatch.example[127.0.0.1]: certificate not verified")
	})
	s.stop() // writes the day's counts

	// Make the day complete without a clock of the server's own: the
	// counts are in data_dir/tlsrpt/YYYY-MM-DD.json, one file per UTC
	// day, and the date is only in the file's name (the file holds the
	// counts by policy domain, no date), so renaming today's file to
	// yesterday's makes them the counts of a day that is over. The
	// reporter sends every such day at its start.
	store := filepath.Join(s.dir, "data", "tlsrpt")
	files, _ := filepath.Glob(filepath.Join(store, "*.json"))
	if len(files) != 1 {
		t.Fatalf("want the counts of one day in %s, got %v\npostern:\n%s", store, files, s.logs())
	}
	today := files[0]
	day, err := time.Parse("2006-01-02.json", filepath.Base(today))
	if err != nil {
		t.Fatal(err)
	}
	yesterday := day.Add(-24 * time.Hour)
	if err := os.Rename(today, filepath.Join(store, yesterday.Format("2006-01-02")+".json")); err != nil {
		t.Fatalf("the day's counts: %v", err)
	}
	s.start()
	dumps := sk.wait(t, 6, 30*time.Second)
	reports := tlsReportsIn(t, dumps)
	if len(reports) != 3 {
		t.Fatalf("want the reports of 3 domains, got %d of %d messages\npostern:\n%s", len(reports), len(dumps), s.logs())
	}
	checkTLSReports(t, reports, yesterday)

	// Started again: the reports sent are not sent again.
	s.stop()
	s.start()
	time.Sleep(3 * time.Second)
	if got := sk.wait(t, 7, time.Second); len(got) != 6 {
		t.Errorf("after a restart %d messages, want the 6 there were\npostern:\n%s", len(got), s.logs())
	}
	if n := strings.Count(s.logs(), "TLS report queued"); n != 3 {
		t.Errorf("%d reports queued, want 3\npostern:\n%s", n, s.logs())
	}
	s.stop()
	// The sessions that took the reports are not counted (RFC 8460 5.3).
	if b, err := os.ReadFile(today); err == nil && strings.Contains(string(b), "reports.test") {
		t.Errorf("the report mails were counted: %s", b)
	}

	// A day file that cannot be read stops the server, which names it
	// and the fix; postern check says the same.
	torn := filepath.Join(store, "2026-01-02.json")
	os.WriteFile(torn, []byte(`{"domains": `), 0o640)
	out := s.serveFails()
	for _, want := range []string{torn, "postern set-permissions", "move a damaged day file away", "[tlsrpt] enabled = false"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve with a torn day file: no %q in\n%s", want, out)
		}
	}
	if out, err := s.postern("", "check"); err == nil || !strings.Contains(out, "TLS report store "+torn) {
		t.Errorf("check with a torn day file: %v\n%s", err, out)
	}
}

// checkTLSReports checks the headers and counts of each domain's
// report, for the day that begins at day.
func checkTLSReports(t *testing.T, reports map[string]*tlsReport, day time.Time) {
	t.Helper()
	for _, tt := range []struct {
		domain, policyType, result, failedMX string
		successes                            bool
	}{
		{"partner.example", "sts", "validation-failure", "mx.unlisted.partner.example", true},
		{"mismatch.example", "sts", "certificate-host-mismatch", "mx.mismatch.example", false},
		{"dane.example", "tlsa", "tlsa-invalid", "mx.bad.dane.example", true},
	} {
		r := reports[tt.domain]
		if r == nil {
			t.Errorf("no report for %s", tt.domain)
			continue
		}
		t.Logf("the report of %s: %s", tt.domain, r.json)
		const submitter = "mx.example.test" // [tlsrpt] submitter: the hostname
		if got := r.header.Get("TLS-Report-Submitter"); got != submitter {
			t.Errorf("%s: TLS-Report-Submitter %q", tt.domain, got)
		}
		if subj := r.header.Get("Subject"); !strings.HasPrefix(subj, "Report Domain: "+tt.domain+" Submitter: "+submitter+" Report-ID: <") {
			t.Errorf("%s: Subject %q", tt.domain, subj)
		}
		// RFC 8460 5.1: submitter!policy-domain!begin!end!unique-id.json.gz
		prefix := fmt.Sprintf("%s!%s!%d!%d!", submitter, tt.domain, day.Unix(), day.Add(24*time.Hour).Unix()-1)
		if !strings.HasPrefix(r.filename, prefix) || !strings.HasSuffix(r.filename, ".json.gz") {
			t.Errorf("%s: file name %q, want %s….json.gz", tt.domain, r.filename, prefix)
		}
		var ok, failed, rows int
		found := false
		for _, p := range r.doc.Policies {
			if p.Policy.Domain != tt.domain {
				t.Errorf("%s: a policy of %s", tt.domain, p.Policy.Domain)
			}
			if p.Policy.Type != tt.policyType {
				t.Errorf("%s: policy-type %s, want %s\n%s", tt.domain, p.Policy.Type, tt.policyType, r.json)
			}
			ok, failed = ok+p.Summary.OK, failed+p.Summary.Failed
			for _, d := range p.Details {
				rows += d.Count
				found = found || (d.Result == tt.result && d.MXHost == tt.failedMX && d.Count > 0)
			}
		}
		if !found || failed == 0 || rows != failed || (ok > 0) != tt.successes {
			t.Errorf("%s: %d successes, %d failures (%d in rows), want a %s row for %s:\n%s",
				tt.domain, ok, failed, rows, tt.result, tt.failedMX, r.json)
		}
	}
	if pols := reports["partner.example"].doc.Policies; len(pols) == 0 || !bytes.Contains([]byte(strings.Join(pols[0].Policy.String, "\n")), []byte("mx: mx.partner.example")) {
		t.Errorf("partner.example: policy-string %v", pols)
	}
}
