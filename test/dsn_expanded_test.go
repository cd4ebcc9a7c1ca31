package test

import (
	"strings"
	"testing"
	"time"
)

// sendDSN sends one message from the local user s@example.test with
// RET=HDRS to rcpt, asking for a success notice, with an ORCPT in capitals.
func sendDSN(t *testing.T, s *server, rcpt, subject string) {
	t.Helper()
	c := dialFrom(t, "127.0.0.1", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<s@example.test> RET=HDRS", 250)
	c.must("RCPT TO:<"+rcpt+"> NOTIFY=SUCCESS ORCPT=rfc822;"+strings.ToUpper(rcpt), 250)
	c.must("DATA", 354)
	c.must("From: s@example.test\r\nSubject: "+subject+"\r\n\r\nbody line\r\n.", 250)
	c.must("QUIT", 221)
}

// RFC 3461 5.2.7.3: an alias that expands into several addresses gets
// one "expanded" notice for itself, not one per address; RFC 3461
// 5.2.7.2: an alias to one address is a rewrite and reports "delivered".
func TestDSNAliasExpanded(t *testing.T) {
	dir := mapsDir(t, map[string]string{"aliases": "team: alice, bob\ninfo: alice\n"})
	s := newServer(t, serverConfig{MapsDir: dir})
	for _, u := range []string{"s@example.test", "alice@example.test", "bob@example.test"} {
		s.addUser(u, "pw-pw-pw-pw")
	}
	s.start()

	sendDSN(t, s, "team@example.test", "to the team")
	alice := s.waitMaildir("alice@example.test", 1, 20*time.Second)
	bob := s.waitMaildir("bob@example.test", 1, 20*time.Second)
	if len(alice) != 1 || len(bob) != 1 {
		t.Fatalf("alice has %d, bob %d messages; want 1 each\n%s", len(alice), len(bob), s.logs())
	}
	notices := s.waitMaildir("s@example.test", 1, 20*time.Second)
	if len(notices) != 1 {
		t.Fatalf("sender has %d notices, want 1\n%s", len(notices), s.logs())
	}
	r := parseDSNMessage(t, notices[0])
	if !strings.Contains(r.header.Get("Subject"), "Successful") || len(r.rcpts) != 1 {
		t.Fatalf("notice %q with blocks %v, want one success block", r.header.Get("Subject"), r.rcpts)
	}
	want := map[string]string{
		"Final-Recipient":    "rfc822; team@example.test",
		"Original-Recipient": "rfc822; TEAM@EXAMPLE.TEST",
		"Action":             "expanded",
		"Status":             "2.0.0",
	}
	for k, v := range want {
		if got := r.rcpts[0].Get(k); got != v {
			t.Errorf("team: %s = %q, want %q", k, got, v)
		}
	}
	if r.retType != "text/rfc822-headers" || strings.Contains(r.ret, "body line") {
		t.Errorf("returned part %q:\n%s", r.retType, r.ret)
	}

	sendDSN(t, s, "info@example.test", "to info")
	if got := s.waitMaildir("alice@example.test", 2, 20*time.Second); len(got) != 2 {
		t.Fatalf("alice has %d messages, want 2\n%s", len(got), s.logs())
	}
	notices = s.waitMaildir("s@example.test", 2, 20*time.Second)
	if len(notices) != 2 {
		t.Fatalf("sender has %d notices, want 2\n%s", len(notices), s.logs())
	}
	var info dsnReport
	for _, n := range notices {
		if strings.Contains(n, "rfc822; info@example.test") {
			info = parseDSNMessage(t, n)
		}
	}
	if len(info.rcpts) != 1 || info.rcpts[0].Get("Action") != "delivered" || info.rcpts[0].Get("Final-Recipient") != "rfc822; info@example.test" {
		t.Errorf("one-to-one alias notice blocks %v, want one delivered block for info@example.test", info.rcpts)
	}
	// Nothing more: no notice per target of team.
	time.Sleep(2 * time.Second)
	if got := s.maildir("s@example.test"); len(got) != 2 {
		t.Errorf("sender has %d notices, want 2", len(got))
	}
}
