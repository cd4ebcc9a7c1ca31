package test

import (
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// A trusted client sets SMTPUTF8 and BODY=8BITMIME on every message, as
// many do. The next hop (smtp-sink -8) offers neither: a plain ASCII
// message goes to it without the parameters; one with a UTF-8 Subject or
// 8-bit body is returned to its sender with 5.6.7 or 5.6.3.
func TestRelayDowngradeSMTPUTF8And8BITMIME(t *testing.T) {
	sk := startSink(t, "-8")
	dns := dnstest.Start(t, dnstest.Zone{"remote.test. MX": {"10 mx.remote.test."}, "mx.remote.test. A": {"127.0.0.1"}})
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, sk.Port, "")})
	s.addUser("s@example.test", "pw-pw-pw-pw")
	s.start()
	send := func(content string) {
		t.Helper()
		c := dialFrom(t, "127.0.0.1", s.MTA)
		c.must("EHLO client.test", 250)
		c.must("MAIL FROM:<s@example.test> BODY=8BITMIME SMTPUTF8", 250)
		c.must("RCPT TO:<x@remote.test>", 250)
		c.must("DATA", 354)
		c.send(content + ".\r\n")
		if code, text := c.reply(); code != 250 {
			t.Fatalf("DATA: %s", text)
		}
		c.must("QUIT", 221)
	}
	send("From: s@example.test\r\nSubject: plain ascii\r\n\r\nhello\r\n")
	got := sk.wait(t, 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("next hop got %d messages\n%s", len(got), s.logs())
	}
	args := ""
	for _, l := range strings.Split(got[0], "\n") {
		if strings.HasPrefix(l, "X-Mail-Args:") {
			args = l
		}
	}
	if !strings.Contains(args, "<s@example.test>") || strings.Contains(args, "SMTPUTF8") || strings.Contains(args, "BODY=") {
		t.Errorf("MAIL arguments at the next hop: %q", args)
	}
	if !strings.Contains(got[0], "Subject: plain ascii") {
		t.Errorf("dump:\n%s", got[0])
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(s.logs(), "downgraded=smtputf8,8bitmime") {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.logs(), "downgraded=smtputf8,8bitmime") {
		t.Errorf("no downgraded= on the sent line:\n%s", s.logs())
	}

	// Real UTF-8 in a header field, then real 8-bit content: returned.
	send("From: s@example.test\r\nSubject: gr\u00fc\u00dfe\r\n\r\nhello\r\n")
	send("From: s@example.test\r\nSubject: eight\r\n\r\ngr\u00fc\u00dfe\r\n")
	msgs := s.waitMaildir("s@example.test", 2, 20*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("sender's Maildir holds %d messages, want 2 notices\n%s", len(msgs), s.logs())
	}
	statuses := map[string]string{}
	for _, m := range msgs {
		r := parseDSNMessage(t, m)
		if len(r.rcpts) != 1 {
			t.Fatalf("recipient blocks %v", r.rcpts)
		}
		b := r.rcpts[0]
		if b.Get("Action") != "failed" || b.Get("Final-Recipient") != "rfc822; x@remote.test" {
			t.Errorf("recipient block %v", b)
		}
		statuses[b.Get("Status")] = b.Get("Diagnostic-Code")
	}
	if d := statuses["5.6.7"]; !strings.Contains(d, "SMTPUTF8") {
		t.Errorf("no 5.6.7 notice naming SMTPUTF8: %v", statuses)
	}
	if d := statuses["5.6.3"]; !strings.Contains(d, "8BITMIME") {
		t.Errorf("no 5.6.3 notice naming 8BITMIME: %v", statuses)
	}
	if got := sk.wait(t, 1, time.Second); len(got) != 1 {
		t.Errorf("next hop got %d messages, want only the ASCII one", len(got))
	}
}
