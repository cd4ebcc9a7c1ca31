package test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testpeer"
)

// postern as the backup MX (preference 20) of backup.example, whose
// primary (preference 10) is a real Postfix that knows bob and carol
// (relay_recipient_maps) and passes their mail on to a sink. A client
// that is neither trusted nor logged in reaches bob, gets the primary's
// 550 for an unknown address and no relay elsewhere; with the primary
// stopped, bob (verified a moment ago, cached) is still taken and
// queued, carol (never asked) waits with 451; once the primary is back,
// the queued mail reaches it, each message once.
func TestBackupMXCallout(t *testing.T) {
	sk := startSink(t)
	pf := testpeer.StartPostfix(t, map[string]string{
		"myhostname":                   "mx1.backup.example",
		"relay_domains":                "backup.example",
		"relay_recipient_maps":         "inline:{bob@backup.example=ok, carol@backup.example=ok}",
		"transport_maps":               fmt.Sprintf("inline:{backup.example=smtp:[127.0.0.1]:%d}", sk.Port),
		"smtpd_recipient_restrictions": "reject_unlisted_recipient, permit_mynetworks, reject",
	})
	pfPort, _ := strconv.Atoi(portOf(pf.SMTP))
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
	rcpt(c, "nobody@backup.example", 550, "User unknown in relay recipient table") // the primary's text
	rcpt(c, "bob@elsewhere.example", 550, "5.7.1")                                 // no relay
	c.must("RCPT TO:<bob@backup.example>", 250)
	send(c, "first")
	if got := sk.wait(t, 1, 30*time.Second); len(got) != 1 || !strings.Contains(got[0], "Subject: first") {
		t.Fatalf("the primary got %d messages, want the first:\n%s\npostern:\n%s", len(got), strings.Join(got, "\n"), s.logs())
	}

	pf.Stop()
	c = stranger()
	rcpt(c, "carol@backup.example", 451, "4.4.1")                  // never verified
	rcpt(c, "nobody@backup.example", 550, "relay recipient table") // the cached refusal
	c.must("RCPT TO:<bob@backup.example>", 250)
	send(c, "second")
	eventually(t, 20*time.Second, "a deferral to the primary", func() bool {
		return strings.Contains(s.logs(), "deferred")
	})
	if out, err := s.postern("", "queue", "list"); err != nil || !strings.Contains(out, "bob@backup.example") {
		t.Errorf("the second message is not queued: %v\n%s", err, out)
	}

	pf.Start(t)
	got := sk.wait(t, 2, 60*time.Second)
	time.Sleep(5 * time.Second)
	got = sk.wait(t, 2, time.Second)
	all := strings.Join(got, "\n")
	if len(got) != 2 || strings.Count(all, "Subject: first") != 1 || strings.Count(all, "Subject: second") != 1 {
		t.Fatalf("the primary got %d messages, want first and second once each:\n%s\npostern:\n%s", len(got), all, s.logs())
	}
	if out, _ := s.postern("", "queue", "list"); strings.Contains(out, "bob@backup.example") {
		t.Errorf("still queued after delivery:\n%s", out)
	}
}
