package test

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// failureZone: ruf.example publishes p=reject with an SPF record that
// does not allow the test client and asks for failure reports at a
// mailbox of postern's own domain, which agrees to receive them (RFC
// 7489 7.1).
func failureZone() dnstest.Zone {
	return dnstest.Zone{
		"ruf.example. TXT":                             {"v=spf1 ip4:192.0.2.1 -all"},
		"_dmarc.ruf.example. TXT":                      {"v=DMARC1; p=reject; ruf=mailto:ruf@example.test"},
		"ruf.example._report._dmarc.example.test. TXT": {"v=DMARC1"},
	}
}

// A message that fails DMARC is refused, and the domain gets one failure
// report (RFC 6591) about it; a second one from the same client within
// failure_report_interval gets none.
func TestDMARCFailureReports(t *testing.T) {
	s := newServer(t, serverConfig{Zone: failureZone(), Extra: "[dmarc]\nfailure_reports = true\n"})
	s.addUser("alice@example.test", "pw")
	s.addUser("ruf@example.test", "pw")
	s.start()

	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	code, text := c.sendMail("a@ruf.example", "alice@example.test", testMessage("Boss <ceo@ruf.example>", "forged-1"))
	if code != 550 || !strings.Contains(text, "5.7.1") {
		t.Fatalf("DMARC fail with p=reject: %d %s", code, text)
	}
	reports := s.waitMaildir("ruf@example.test", 1, 15*time.Second)
	if len(reports) != 1 {
		t.Fatalf("ruf mailbox holds %d messages\n%s", len(reports), s.logs())
	}
	checkFailureReport(t, reports[0])

	code, _ = c.sendMail("a@ruf.example", "alice@example.test", testMessage("Boss <ceo@ruf.example>", "forged-2"))
	if code != 550 {
		t.Fatalf("second message: %d", code)
	}
	c.must("QUIT", 221)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs(), "one report per domain and client address every 1h0m0s") {
		if time.Now().After(deadline) {
			t.Fatalf("the second report was not held back by the rate limit\n%s", s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := s.maildir("ruf@example.test"); len(got) != 1 {
		t.Fatalf("ruf mailbox holds %d messages after the second failure", len(got))
	}
	if n := len(s.maildir("alice@example.test")); n != 0 {
		t.Errorf("rejected mail delivered: %d messages", n)
	}
}

// checkFailureReport parses a delivered report back: multipart/report
// with the human part, the feedback-report fields and only the header of
// the original message.
func checkFailureReport(t *testing.T, raw string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("Subject"); got != "DMARC failure report for ruf.example" {
		t.Errorf("Subject %q", got)
	}
	if got := m.Header.Get("From"); !strings.Contains(got, "dmarc-reports@mx.example.test") {
		t.Errorf("From %q", got)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "feedback-report" {
		t.Fatalf("Content-Type %q", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types []string
	var bodies [][]byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types, bodies = append(types, pt), append(bodies, b)
	}
	if strings.Join(types, ",") != "text/plain,message/feedback-report,text/rfc822-headers" {
		t.Fatalf("parts %q", types)
	}
	fields, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(bodies[1], "\r\n"...)))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("feedback report: %v\n%s", err, bodies[1])
	}
	for k, want := range map[string]string{
		"Feedback-Type": "auth-failure", "Version": "1", "Original-Mail-From": "<a@ruf.example>",
		"Source-Ip": "127.0.0.2", "Reported-Domain": "ruf.example", "Auth-Failure": "dmarc",
		"Delivery-Result": "reject", "Identity-Alignment": "none", "Reporting-Mta": "dns; mx.example.test",
	} {
		if got := fields.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if ua := fields.Get("User-Agent"); !strings.HasPrefix(ua, "postern") {
		t.Errorf("User-Agent %q", ua)
	}
	if fields.Get("Arrival-Date") == "" {
		t.Error("no Arrival-Date")
	}
	if ar := fields.Get("Authentication-Results"); !strings.HasPrefix(ar, "mx.example.test;") || !strings.Contains(ar, "dmarc=fail") {
		t.Errorf("Authentication-Results %q", ar)
	}
	hdr := string(bodies[2])
	if !strings.Contains(hdr, "Subject: forged-1") || !strings.Contains(hdr, "From: Boss <ceo@ruf.example>") {
		t.Errorf("headers part:\n%s", hdr)
	}
	if strings.Contains(raw, "Hello.") {
		t.Error("the report carries the message body")
	}
}

// With failure_reports off (the default) nothing is sent.
func TestDMARCFailureReportsOff(t *testing.T) {
	s := newServer(t, serverConfig{Zone: failureZone()})
	s.addUser("alice@example.test", "pw")
	s.addUser("ruf@example.test", "pw")
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	if code, text := c.sendMail("a@ruf.example", "alice@example.test", testMessage("ceo@ruf.example", "forged")); code != 550 {
		t.Fatalf("DMARC fail with p=reject: %d %s", code, text)
	}
	// A message to the ruf mailbox itself, after the failure: once it is
	// delivered, a report queued at the failure would have been too.
	if code, text := c.sendMail("a@pass.example", "ruf@example.test", testMessage("ceo@elsewhere.example", "marker")); code != 250 {
		t.Fatalf("marker message: %d %s", code, text)
	}
	c.must("QUIT", 221)
	got := s.waitMaildir("ruf@example.test", 1, 15*time.Second)
	time.Sleep(time.Second)
	got = s.maildir("ruf@example.test")
	if len(got) != 1 || !strings.Contains(got[0], "Subject: marker") {
		t.Fatalf("ruf mailbox holds %d messages, want only the marker", len(got))
	}
	if strings.Contains(s.logs(), "dmarc report queued") {
		t.Errorf("a report was queued with failure_reports off\n%s", s.logs())
	}
}
