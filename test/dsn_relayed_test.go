package test

import (
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// relayWithDSN starts postern relaying remote.test to sk (smtp-sink) and
// sends one message with DSN parameters from the local user s@example.test:
// x@remote.test asks for a success notice, y@remote.test does not.
func relayWithDSN(t *testing.T, sk *sink) *server {
	t.Helper()
	dns := dnstest.Start(t, dnstest.Zone{"remote.test. MX": {"10 mx.remote.test."}, "mx.remote.test. A": {"127.0.0.1"}})
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, sk.Port, "")})
	s.addUser("s@example.test", "pw-pw-pw-pw")
	s.start()
	c := dialFrom(t, "127.0.0.1", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<s@example.test> RET=HDRS ENVID=e1", 250)
	c.must("RCPT TO:<x@remote.test> NOTIFY=SUCCESS ORCPT=rfc822;x@remote.test", 250)
	c.must("RCPT TO:<y@remote.test> NOTIFY=FAILURE", 250)
	c.must("DATA", 354)
	c.send("From: s@example.test\r\nSubject: relayed report\r\n\r\nsecret body line\r\n.\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA: %s", text)
	}
	c.must("QUIT", 221)
	return s
}

// RFC 3461 5.2.2: the next hop does not offer DSN, so NOTIFY cannot go on;
// postern itself reports, with Action: relayed, for the recipient that
// asked for a success notice, to the envelope sender.
func TestDSNRelayedToHopWithoutDSN(t *testing.T) {
	sk := startSink(t, "-N") // smtp-sink without DSN in its EHLO reply
	s := relayWithDSN(t, sk)
	got := sk.wait(t, 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("next hop got %d messages\n%s", len(got), s.logs())
	}
	if strings.Contains(got[0], "NOTIFY=") || strings.Contains(got[0], "ENVID=") {
		t.Errorf("DSN parameters sent to a server that does not offer DSN:\n%s", got[0])
	}
	msgs := s.waitMaildir("s@example.test", 1, 20*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("sender's Maildir holds %d messages, want the relayed notice\n%s", len(msgs), s.logs())
	}
	r := parseDSNMessage(t, msgs[0])
	if !strings.Contains(r.header.Get("Subject"), "Successful") {
		t.Errorf("Subject %q", r.header.Get("Subject"))
	}
	if rp := r.header.Get("Return-Path"); rp != "" && rp != "<>" {
		t.Errorf("notice Return-Path %q, want the null sender", rp)
	}
	if r.perMsg.Get("Original-Envelope-Id") != "e1" || r.perMsg.Get("Reporting-MTA") != "dns; mx.example.test" {
		t.Errorf("per-message fields %v", r.perMsg)
	}
	if len(r.rcpts) != 1 {
		t.Fatalf("recipient blocks %v, want x@remote.test only", r.rcpts)
	}
	b := r.rcpts[0]
	want := map[string]string{
		"Final-Recipient":    "rfc822; x@remote.test",
		"Original-Recipient": "rfc822; x@remote.test",
		"Action":             "relayed",
		"Status":             "2.0.0",
		"Remote-MTA":         "dns; mx.remote.test",
	}
	for k, v := range want {
		if got := b.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if d := b.Get("Diagnostic-Code"); !strings.HasPrefix(d, "smtp; 250") {
		t.Errorf("Diagnostic-Code %q, want the next hop's 250 reply", d)
	}
	// RET=HDRS (and any success-class notice): the headers only.
	if r.retType != "text/rfc822-headers" || strings.Contains(r.ret, "secret body line") || !strings.Contains(r.ret, "Subject: relayed report") {
		t.Errorf("returned part %q:\n%s", r.retType, r.ret)
	}
}

// RFC 3461 5.2.1: the next hop offers DSN, so the request goes on with the
// message (RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT) and postern
// sends no notice of its own.
func TestDSNPassedToHopWithDSN(t *testing.T) {
	sk := startSink(t)
	s := relayWithDSN(t, sk)
	got := sk.wait(t, 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("next hop got %d messages\n%s", len(got), s.logs())
	}
	for _, w := range []string{"RET=HDRS ENVID=e1", "NOTIFY=SUCCESS ORCPT=rfc822;x@remote.test", "NOTIFY=FAILURE"} {
		if !strings.Contains(got[0], w) {
			t.Errorf("next hop did not get %q:\n%s", w, got[0])
		}
	}
	// The attempt is over once the delivery is logged; a notice would be
	// queued before that and delivered within moments.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.logs(), "sent") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	if msgs := s.maildir("s@example.test"); len(msgs) != 0 {
		t.Errorf("postern sent %d notices although the next hop took the DSN request:\n%s", len(msgs), msgs[0])
	}
	if strings.Contains(s.logs(), "notice queued") {
		t.Errorf("a notice was queued:\n%s", s.logs())
	}
}
