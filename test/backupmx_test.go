package test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testpeer"
)

// postern as the backup MX (preference 20) of backup.example, whose
// primary (preference 10) is a real Postfix with the mailboxes of bob
// and carol (virtual_mailbox_maps, Maildirs). A client that is neither
// trusted nor logged in reaches bob, gets the primary's 550 for an
// unknown address and no relay elsewhere; with the primary stopped, bob
// (verified a moment ago, cached) is still taken and queued, carol
// (never asked) waits with 451; once the primary is back, the queued
// mail reaches bob's mailbox, each message once.
func TestBackupMXCallout(t *testing.T) {
	pf, pfPort, boxes := testpeer.StartPostfixMailboxes(t, "mx1.backup.example", "backup.example", "bob", "carol")
	dns := dnstest.Start(t, dnstest.Zone{
		"backup.example. MX":      {"10 mx1.backup.example.", "20 mx2.backup.example."},
		"mx1.backup.example. A":   {"127.0.0.1"},
		"mx2.backup.example. A":   {"127.0.0.1"},
		"elsewhere.example. MX":   {"10 mx.elsewhere.example."},
		"mx.elsewhere.example. A": {"127.0.0.1"},
	})
	s := newServer(t, serverConfig{Hostname: "mx2.backup.example", Extra: relayConfig(dns.Addr, pfPort,
		"") + "\n[queue]\nretry_initial = \"2s\"\nretry_max = \"4s\"\n\n[[backup_mx]]\ndomain = \"backup.example\"\n"})
	s.start()

	stranger := func() *smtpConn {
		c := dialFrom(t, "127.0.0.9", s.MTA)
		c.must("EHLO client.test", 250)
		c.must("MAIL FROM:<someone@sender.test>", 250)
		return c
	}
	rcpt := func(c *smtpConn, addr string, code int, want string) {
		t.Helper()
		if got, text := c.cmd("RCPT TO:<" + addr + ">"); got != code || !strings.Contains(text, want) {
			t.Errorf("RCPT TO:<%s>: %d %s, want %d with %q", addr, got, text, code, want)
		}
	}
	send := func(c *smtpConn, subject string) {
		c.must("DATA", 354)
		c.send("From: <someone@sender.test>\r\nSubject: " + subject + "\r\n\r\nhello\r\n.\r\n")
		if code, text := c.reply(); code != 250 {
			t.Fatalf("DATA of %s: %d %s", subject, code, text)
		}
		c.must("QUIT", 221)
	}
	c := stranger()
	rcpt(c, "nobody@backup.example", 550, "User unknown in virtual mailbox table") // the primary's text
	rcpt(c, "bob@elsewhere.example", 550, "5.7.1")                                 // no relay
	c.must("RCPT TO:<bob@backup.example>", 250)
	send(c, "first")
	if got := waitMaildirAt(t, filepath.Join(boxes, "bob"), 1, 30*time.Second); len(got) != 1 || !strings.Contains(got[0], "Subject: first") {
		t.Fatalf("bob's mailbox at the primary has %d messages, want the first:\n%s\npostern:\n%s", len(got), strings.Join(got, "\n"), s.logs())
	}

	pf.Stop()
	c = stranger()
	rcpt(c, "carol@backup.example", 451, "4.4.1")                  // never verified
	rcpt(c, "nobody@backup.example", 550, "virtual mailbox table") // the cached refusal
	c.must("RCPT TO:<bob@backup.example>", 250)
	send(c, "second")
	eventually(t, 20*time.Second, "a deferral to the primary", func() bool {
		return strings.Contains(s.logs(), "deferred")
	})
	if out, err := s.postern("", "queue", "list"); err != nil || !strings.Contains(out, "bob@backup.example") {
		t.Errorf("the second message is not queued: %v\n%s", err, out)
	}

	pf.Start(t)
	waitMaildirAt(t, filepath.Join(boxes, "bob"), 2, 60*time.Second)
	time.Sleep(5 * time.Second)
	got := waitMaildirAt(t, filepath.Join(boxes, "bob"), 2, time.Second)
	all := strings.Join(got, "\n")
	if len(got) != 2 || strings.Count(all, "Subject: first") != 1 || strings.Count(all, "Subject: second") != 1 {
		t.Fatalf("bob's mailbox at the primary has %d messages, want first and second once each:\n%s\npostern:\n%s", len(got), all, s.logs())
	}
	// explain asks the primary as the server does.
	if out, err := s.postern("", "explain", "-client", "127.0.0.9", "-from", "someone@sender.test", "-rcpt", "bob@backup.example"); err != nil || !strings.Contains(out, "the primary mx1.backup.example [127.0.0.1] accepted") {
		t.Errorf("explain: %v\n%s", err, out)
	}
	if out, _ := s.postern("", "queue", "list"); strings.Contains(out, "bob@backup.example") {
		t.Errorf("still queued after delivery:\n%s", out)
	}
}

// With verify = "maps", the virtusertable lists the valid recipients of
// the backup domain: a listed address is taken from a stranger and
// delivered to the primary (smtp-sink) once; any other gets the
// catch-all's error, and nothing relays elsewhere.
func TestBackupMXMaps(t *testing.T) {
	sk := startSink(t)
	dir := mapsDir(t, map[string]string{"virtusertable": "carol@listed.example carol@listed.example\n@listed.example error:nouser No such user here\n"})
	dns := dnstest.Start(t, dnstest.Zone{
		"listed.example. MX":    {"10 mx1.listed.example.", "20 mx2.backup.example."},
		"mx1.listed.example. A": {"127.0.0.1"},
		"mx2.backup.example. A": {"127.0.0.1"},
		"elsewhere.example. MX": {"10 mx1.listed.example."},
	})
	s := newServer(t, serverConfig{Hostname: "mx2.backup.example", MapsDir: dir, Extra: relayConfig(dns.Addr, sk.Port, "") +
		"\n[[backup_mx]]\ndomain = \"listed.example\"\nverify = \"maps\"\n"})
	s.start()
	c := dialFrom(t, "127.0.0.9", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<someone@sender.test>", 250)
	for rcpt, want := range map[string]string{"dave@listed.example": "550 5.1.1 No such user here", "bob@elsewhere.example": "550 5.7.1"} {
		if code, text := c.cmd("RCPT TO:<" + rcpt + ">"); code != 550 || !strings.Contains(text, want) {
			t.Errorf("RCPT TO:<%s>: %d %s, want %q", rcpt, code, text, want)
		}
	}
	c.must("RCPT TO:<carol@listed.example>", 250)
	c.must("DATA", 354)
	c.send("From: <someone@sender.test>\r\nSubject: listed\r\n\r\nhello\r\n.\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	sk.wait(t, 1, 30*time.Second)
	time.Sleep(2 * time.Second)
	if got := sk.wait(t, 1, time.Second); len(got) != 1 || !strings.Contains(got[0], "Subject: listed") {
		t.Fatalf("the primary got %d messages, want the one:\n%s\npostern:\n%s", len(got), strings.Join(got, "\n"), s.logs())
	}
}
