package test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dkim"
	"postern/internal/dnstest"
	"postern/internal/testpeer"
)

// mailAuthZone is the DNS the mail authentication tests see: a domain
// whose SPF allows the test client 127.0.0.2 (pass.example), one with
// p=reject whose SPF does not (reject.example), one with p=quarantine
// (quar.example).
func mailAuthZone() dnstest.Zone {
	return dnstest.Zone{
		"pass.example. TXT":          {"v=spf1 ip4:127.0.0.2 -all"},
		"_dmarc.pass.example. TXT":   {"v=DMARC1; p=reject"},
		"reject.example. TXT":        {"v=spf1 ip4:192.0.2.1 -all"},
		"_dmarc.reject.example. TXT": {"v=DMARC1; p=reject"},
		"quar.example. TXT":          {"v=spf1 ip4:192.0.2.1 -all"},
		"_dmarc.quar.example. TXT":   {"v=DMARC1; p=quarantine"},
	}
}

func dnsExtra(srv *dnstest.Server) string {
	return fmt.Sprintf("[dns]\nservers = [%q]\ntimeout = \"3s\"\n", srv.Addr)
}

// sendMail runs one transaction and returns the reply to the end of DATA.
func (c *smtpConn) sendMail(from, to, msg string) (int, string) {
	c.t.Helper()
	c.must("MAIL FROM:<"+from+">", 250)
	c.must("RCPT TO:<"+to+">", 250)
	c.must("DATA", 354)
	c.send(strings.ReplaceAll(msg, "\n", "\r\n") + ".\r\n")
	return c.reply()
}

func testMessage(from, subject string, extra ...string) string {
	return strings.Join(extra, "") + "From: " + from + "\nTo: alice@example.test\nSubject: " + subject +
		"\nDate: Sat, 21 Nov 2026 01:00:00 +0000\nMessage-ID: <" + subject + "@client.test>\n\nHello.\n"
}

// maildirFolder returns the messages in one folder ("" for the inbox,
// ".Junk") of addr's Maildir.
func (s *server) maildirFolder(addr, folder string) []string {
	s.t.Helper()
	local, domain, _ := strings.Cut(addr, "@")
	files, _ := filepath.Glob(filepath.Join(s.dir, "data", "mail", domain, local, folder, "new", "*"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// headerOf returns the header section of a delivered message, unfolded
// fields one per line.
func headerOf(msg string) string {
	h, _, _ := strings.Cut(strings.ReplaceAll(msg, "\r\n", "\n"), "\n\n")
	return strings.NewReplacer("\n\t", " ", "\n ", " ").Replace(h)
}

// Mail from a client that is not trusted and did not log in: SPF, DKIM
// and DMARC are checked, the domain's policy is enforced, the results are
// written into the message, forged results are removed, and every
// evaluation is recorded for the aggregate reports.
func TestMailAuthInbound(t *testing.T) {
	// signed.example: SPF fails for the client, but the message carries
	// a valid DKIM signature of the domain, so DMARC passes.
	zone := mailAuthZone()
	keyDir := t.TempDir()
	_, pemKey, err := dkim.GenerateKey(dkim.AlgoEd25519)
	if err != nil {
		t.Fatal(err)
	}
	dkim.WriteKey(keyDir, "signed.example", "s1", pemKey)
	dkim.AddSelector(keyDir, "signed.example", dkim.Selector{Name: "s1", Algo: dkim.AlgoEd25519, Created: time.Now().Add(-100 * time.Hour)})
	key, _ := dkim.LoadKey(dkim.KeyPath(keyDir, "signed.example", "s1"))
	rec, _ := dkim.PublicRecord(key)
	zone["s1._domainkey.signed.example. TXT"] = []string{rec}
	zone["signed.example. TXT"] = []string{"v=spf1 ip4:192.0.2.1 -all"}
	zone["_dmarc.signed.example. TXT"] = []string{"v=DMARC1; p=reject"}
	signedMsg := strings.ReplaceAll(testMessage("b@signed.example", "dkim-signed"), "\n", "\r\n")
	sig, err := dkim.NewSigner(slog.New(slog.DiscardHandler), dkim.SignOptions{Dir: keyDir}).Sign(context.Background(), "signed.example", strings.NewReader(signedMsg))
	if err != nil || sig == "" {
		t.Fatalf("sign: %v", err)
	}
	srv := dnstest.Start(t, zone)
	s := newServer(t, serverConfig{Extra: dnsExtra(srv)})
	s.addUser("alice@example.test", "pw")
	s.start()

	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)

	// p=reject, SPF fails, no DKIM: refused after DATA.
	code, text := c.sendMail("a@reject.example", "alice@example.test", testMessage("a@reject.example", "rejected"))
	if code != 550 || !strings.Contains(text, "5.7.1") {
		t.Fatalf("p=reject with SPF fail: %s", text)
	}
	// p=quarantine: accepted into the Junk folder.
	if code, text := c.sendMail("a@quar.example", "alice@example.test", testMessage("a@quar.example", "quarantined")); code != 250 {
		t.Fatalf("p=quarantine: %s", text)
	}
	// SPF pass and DMARC pass, with a forged Authentication-Results in our
	// name (removed) and one of another host (kept).
	forged := "Authentication-Results: mx.example.test; dkim=pass header.d=pass.example; dmarc=pass header.from=pass.example\n" +
		"Authentication-Results: other.example; spf=none\n"
	if code, text := c.sendMail("a@pass.example", "alice@example.test", testMessage("Ann <a@pass.example>", "passed", forged)); code != 250 {
		t.Fatalf("pass: %s", text)
	}
	// SPF fails, DKIM passes: delivered.
	if code, text := c.sendMail("b@signed.example", "alice@example.test", strings.ReplaceAll(sig+signedMsg, "\r\n", "\n")); code != 250 {
		t.Fatalf("DKIM pass, SPF fail: %s", text)
	}
	// Two From fields: refused (RFC 5322 3.6, a DMARC evasion).
	code, text = c.sendMail("a@pass.example", "alice@example.test", "From: a@pass.example\n"+testMessage("ceo@reject.example", "twofrom"))
	if code != 550 || !strings.Contains(text, "exactly one From") {
		t.Fatalf("two From fields: %s", text)
	}
	c.must("QUIT", 221)

	junk := waitFolder(s, "alice@example.test", ".Junk", 1)
	if len(junk) != 1 || !strings.Contains(junk[0], "Subject: quarantined") {
		t.Fatalf(".Junk holds %q", junk)
	}
	if h := headerOf(junk[0]); !strings.Contains(h, "dmarc=fail") || !strings.Contains(h, "p=quarantine") {
		t.Errorf("quarantined message header:\n%s", h)
	}
	inbox := s.waitMaildir("alice@example.test", 2, 10*time.Second)
	if len(inbox) != 2 {
		t.Fatalf("inbox holds %q", inbox)
	}
	var passed, signed string
	for _, m := range inbox {
		if strings.Contains(m, "Subject: passed") {
			passed = m
		} else if strings.Contains(m, "Subject: dkim-signed") {
			signed = m
		}
	}
	sh := headerOf(signed)
	for _, want := range []string{"spf=fail smtp.mailfrom=b@signed.example", "dkim=pass header.a=ed25519-sha256", "header.d=signed.example", "dmarc=pass", "header.from=signed.example"} {
		if !strings.Contains(sh, want) {
			t.Errorf("DKIM-signed message lacks %q:\n%s", want, sh)
		}
	}
	h := headerOf(passed)
	var ours []string
	for _, line := range strings.Split(h, "\n") {
		if strings.HasPrefix(line, "Authentication-Results: mx.example.test") {
			ours = append(ours, line)
		}
	}
	if len(ours) != 1 {
		t.Fatalf("want exactly one Authentication-Results of ours (the forged one removed), got %q\n%s", ours, h)
	}
	for _, want := range []string{"spf=pass smtp.mailfrom=a@pass.example", "dkim=none", "dmarc=pass", "header.from=pass.example"} {
		if !strings.Contains(ours[0], want) {
			t.Errorf("Authentication-Results lacks %q: %s", want, ours[0])
		}
	}
	if !strings.Contains(h, "Authentication-Results: other.example; spf=none") {
		t.Errorf("another host's Authentication-Results was removed:\n%s", h)
	}
	if !strings.Contains(h, "Received-SPF: pass (mx.example.test: domain of a@pass.example designates 127.0.0.2 as permitted sender)") {
		t.Errorf("Received-SPF missing or wrong:\n%s", h)
	}
	if strings.Contains(h, "dkim=pass header.d=pass.example") {
		t.Errorf("forged dkim=pass survived:\n%s", h)
	}

	// Every evaluation is in the store for aggregate reports.
	evals := readEvaluations(t, filepath.Join(s.dir, "data", "dmarc"))
	got := map[string]string{}
	for _, e := range evals {
		got[e.From] = e.Result + "/" + e.Disposition
	}
	want := map[string]string{"reject.example": "fail/reject", "quar.example": "fail/quarantine", "pass.example": "pass/none", "signed.example": "pass/none"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("recorded evaluation for %s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// With [spf] reject_fail, an SPF fail is refused at RCPT with 5.7.23.
func TestMailAuthSPFRejectFail(t *testing.T) {
	srv := dnstest.Start(t, mailAuthZone())
	s := newServer(t, serverConfig{Extra: dnsExtra(srv) + "[spf]\nreject_fail = true\n"})
	s.addUser("alice@example.test", "pw")
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<a@quar.example>", 250)
	if text := c.must("RCPT TO:<alice@example.test>", 550); !strings.Contains(text, "5.7.23") {
		t.Errorf("SPF fail: %s", text)
	}
	c.must("RSET", 250)
	c.must("MAIL FROM:<a@pass.example>", 250)
	c.must("RCPT TO:<alice@example.test>", 250)
	// A trusted client is not checked.
	c2 := dialFrom(t, "127.0.0.1", s.MTA)
	c2.must("EHLO client.test", 250)
	c2.must("MAIL FROM:<a@quar.example>", 250)
	c2.must("RCPT TO:<alice@example.test>", 250)
}

type evaluation struct {
	From        string `json:"from"`
	Result      string `json:"result"`
	Disposition string `json:"disposition"`
}

func readEvaluations(t *testing.T, dir string) []evaluation {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	var out []evaluation
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var e evaluation
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, e)
		}
	}
	return out
}

func waitFolder(s *server, addr, folder string, n int) []string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := s.maildirFolder(addr, folder)
		if len(m) >= n || time.Now().After(deadline) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Mail submitted with AUTH is DKIM-signed (RSA and Ed25519) by postern,
// and the signatures verify with opendkim and dkimpy on the message as
// delivered. The domain is not under .test, which opendkim's resolver
// (libunbound) refuses to look up (RFC 6761 6.2).
func TestMailAuthSigning(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{})
	s := newServer(t, serverConfig{Local: []string{"example.org"}, Extra: dnsExtra(srv) + "[dkim]\nactivate_after = \"1s\"\n"})
	s.addUser("alice@example.org", "pw")
	s.addUser("bob@example.org", "pw")
	zone := dnstest.Zone{}
	for _, k := range []struct{ sel, algo string }{{"r1", "rsa"}, {"e1", "ed25519"}} {
		out, err := s.postern("", "dkim", "keygen", "-domain", "example.org", "-selector", k.sel, "-algo", k.algo)
		if err != nil {
			t.Fatalf("keygen: %v\n%s", err, out)
		}
		key, err := dkim.LoadKey(filepath.Join(s.dir, "data", "dkim", "example.org", k.sel+".key"))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := dkim.PublicRecord(key)
		if err != nil {
			t.Fatal(err)
		}
		zone[k.sel+"._domainkey.example.org. TXT"] = []string{rec}
	}
	if err := srv.Set(zone); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // activate_after
	s.start()

	c := dialFrom(t, "127.0.0.2", s.Sub)
	c.must("EHLO client.test", 250)
	c.must("STARTTLS", 220)
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
	c.must("EHLO client.test", 250)
	c.must("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00pw")), 235)
	msg := strings.Replace(testMessage("Alice <alice@example.org>", "signed"), "To: alice@example.test", "To: bob@example.org", 1) +
		"A second line   with spaces  \n\n\n"
	if code, text := c.sendMail("alice@example.org", "bob@example.org", msg); code != 250 {
		t.Fatalf("submission: %s", text)
	}
	got := s.waitMaildir("bob@example.org", 1, 10*time.Second)
	if len(got) != 1 {
		t.Fatalf("bob's mailbox: %q", got)
	}
	delivered := strings.ReplaceAll(got[0], "\n", "\r\n")
	h := headerOf(got[0])
	if strings.Count(h, "DKIM-Signature:") != 2 || strings.Contains(h, "Authentication-Results") {
		t.Fatalf("want two signatures and no Authentication-Results:\n%s", h)
	}
	for _, line := range strings.Split(h, "\n") {
		if strings.HasPrefix(line, "DKIM-Signature:") {
			hl := strings.ToLower(strings.ReplaceAll(line[strings.Index(line, " h=")+3:], " ", ""))
			hl, _, _ = strings.Cut(hl, ";")
			if strings.Contains(hl, "received") || strings.Contains(hl, "authentication-results") || strings.Contains(hl, "return-path") {
				t.Errorf("trace fields signed: h=%s", hl)
			}
		}
	}
	t.Run("opendkim", func(t *testing.T) {
		out := testpeer.OpenDKIMVerify(t, srv.Addr, delivered)
		for _, want := range []string{"dkim=pass (2048-bit key; unprotected) header.d=example.org", "header.a=ed25519-sha256 header.s=e1"} {
			if !strings.Contains(out, want) {
				t.Errorf("opendkim did not report %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "dkim=fail") {
			t.Errorf("opendkim failed a signature:\n%s", out)
		}
	})
	t.Run("dkimpy", func(t *testing.T) {
		out, err := testpeer.DkimpyVerify(t, srv.Addr, delivered, 0, 1)
		if err != nil || out != "signature ok\nsignature ok\n" {
			t.Errorf("dkimpy: %v\n%s", err, out)
		}
	})
}

// The report task sends the aggregate report of the last complete period
// through the queue (here to a local mailbox, as the policy domain is
// local), and a report mailed to report_inbox is read into the store
// that `postern dmarc report` summarises.
func TestMailAuthReports(t *testing.T) {
	srv := dnstest.Start(t, mailAuthZone())
	s := newServer(t, serverConfig{Extra: dnsExtra(srv) +
		"[dmarc]\nreport_interval = \"1h\"\nreport_inbox = \"dmarc@example.test\"\n"})
	s.addUser("dmarc@example.test", "pw")
	// One evaluation in the last complete hour, as the server records
	// them, for our own domain whose rua is dmarc@example.test.
	now := time.Now().UTC()
	if now.Add(20*time.Second).Truncate(time.Hour) != now.Truncate(time.Hour) {
		time.Sleep(30 * time.Second) // too close to the hour's end
		now = time.Now().UTC()
	}
	at := now.Truncate(time.Hour).Add(-30 * time.Minute)
	line := fmt.Sprintf(`{"t":%q,"ip":"198.51.100.7","from":"example.test","mfrom":"example.test","spf":{"domain":"example.test","scope":"mfrom","result":"fail"},"result":"fail","disposition":"none","policy":{"domain":"example.test","adkim":"r","aspf":"r","p":"none","sp":"none","pct":100,"fo":"0","rua":["mailto:dmarc@example.test"]}}`+"\n",
		at.Format(time.RFC3339Nano))
	dmarcDir := filepath.Join(s.dir, "data", "dmarc")
	os.MkdirAll(dmarcDir, 0o750)
	if err := os.WriteFile(filepath.Join(dmarcDir, at.Format("2006-01-02")+".jsonl"), []byte(line), 0o640); err != nil {
		t.Fatal(err)
	}
	s.start()

	got := s.waitMaildir("dmarc@example.test", 1, 15*time.Second)
	if len(got) != 1 {
		t.Fatalf("no report delivered:\n%s", s.logs())
	}
	report := got[0]
	m, err := mail.ReadMessage(strings.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	if subj := m.Header.Get("Subject"); !strings.HasPrefix(subj, "Report Domain: example.test Submitter: mx.example.test") {
		t.Errorf("Subject: %s", subj)
	}
	if from := m.Header.Get("From"); !strings.Contains(from, "dmarc-reports@mx.example.test") {
		t.Errorf("From: %s", from)
	}
	xml := gzipPart(t, m)
	if !strings.Contains(xml, "<source_ip>198.51.100.7</source_ip>") || !strings.Contains(xml, "<domain>example.test</domain>") {
		t.Errorf("report XML:\n%s", xml)
	}

	// Mail the report back to the report inbox: it is imported.
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	body := strings.ReplaceAll(report, "\r\n", "\n")
	_, body, _ = strings.Cut(body, "\n\n")
	var hdr strings.Builder
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type"} {
		fmt.Fprintf(&hdr, "%s: %s\n", k, m.Header.Get(k))
	}
	if code, text := c.sendMail("dmarc-reports@mx.example.test", "dmarc@example.test", hdr.String()+"\n"+body); code != 250 {
		t.Fatalf("report to report_inbox: %s", text)
	}
	s.waitMaildir("dmarc@example.test", 2, 10*time.Second)
	out, err := s.postern("", "dmarc", "report", "-since", "2d")
	if err != nil || !strings.Contains(out, "198.51.100.7") {
		t.Errorf("dmarc report: %v\n%s\nlog:\n%s", err, out, s.logs())
	}
}

// gzipPart returns the decompressed application/gzip part of a report.
func gzipPart(t *testing.T, m *mail.Message) string {
	t.Helper()
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no gzip part: %v", err)
		}
		if !strings.HasPrefix(p.Header.Get("Content-Type"), "application/gzip") {
			continue
		}
		raw, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		x, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return string(x)
	}
}

// With [dmarc] quarantine = "hold", a p=quarantine failure stays in the
// queue, held, instead of reaching any folder.
func TestMailAuthQuarantineHold(t *testing.T) {
	srv := dnstest.Start(t, mailAuthZone())
	s := newServer(t, serverConfig{Extra: dnsExtra(srv) + "[dmarc]\nquarantine = \"hold\"\n"})
	s.addUser("alice@example.test", "pw")
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	if code, text := c.sendMail("a@quar.example", "alice@example.test", testMessage("a@quar.example", "held")); code != 250 {
		t.Fatalf("p=quarantine: %s", text)
	}
	var items []struct {
		From string `json:"from"`
		Held bool   `json:"held"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(items) == 0 && time.Now().Before(deadline) {
		out, err := s.postern("", "queue", "list", "-json")
		if err != nil {
			t.Fatalf("queue list: %v\n%s", err, out)
		}
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(items) != 1 || items[0].From != "a@quar.example" || !items[0].Held {
		t.Fatalf("queue: %+v", items)
	}
	time.Sleep(500 * time.Millisecond)
	if m := append(s.maildir("alice@example.test"), s.maildirFolder("alice@example.test", ".Junk")...); len(m) != 0 {
		t.Errorf("held message delivered: %q", m)
	}
}
