package test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Every lookalike end-of-data sequence, followed by a second transaction:
// the smuggled message must never be delivered as a message of its own.
func TestSmugglingNeverYieldsSecondMessage(t *testing.T) {
	s := newServer(t, serverConfig{})
	s.addUser("alice@example.test", "pw")
	s.addUser("victim@example.test", "pw")
	s.start()
	endings := []string{
		"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\n", "\n.\r", "\r.\r\n", "\r\n.\r",
		"\r\n\x00.\r\n", "\r\n.\x00\r\n", "\r\n.\r\r\n", "\r\n..\n", "\n..\n",
	}
	accepted := 0
	for i, end := range endings {
		c := dialFrom(t, "127.0.0.2", s.MTA)
		c.must("EHLO client.test", 250)
		c.must("MAIL FROM:<sender@elsewhere.test>", 250)
		c.must("RCPT TO:<alice@example.test>", 250)
		c.must("DATA", 354)
		c.send(fmt.Sprintf("Subject: carrier %d\r\n\r\nbody%s", i, end) +
			"MAIL FROM:<spoofed@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n" +
			"Subject: smuggled\r\n\r\nsmuggled\r\n.\r\n")
		code, text := c.reply()
		switch {
		case code == 250:
			accepted++
		case code >= 500:
		default:
			t.Errorf("ending %q: %s", end, text)
		}
		// Whatever happened, the connection is in step: one reply only.
		c.must("NOOP", 250)
		c.must("QUIT", 221)
	}
	got := s.waitMaildir("alice@example.test", accepted, 10*time.Second)
	if len(got) != accepted {
		t.Errorf("alice got %d messages, %d were accepted", len(got), accepted)
	}
	time.Sleep(300 * time.Millisecond)
	if v := s.maildir("victim@example.test"); len(v) != 0 {
		t.Fatalf("a smuggled message reached the victim: %q", v)
	}
}

// Commands pipelined behind STARTTLS in plaintext are thrown away.
func TestStartTLSInjection(t *testing.T) {
	s := newServer(t, serverConfig{})
	s.addUser("alice@example.test", "pw")
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.send("STARTTLS\r\nMAIL FROM:<injected@elsewhere.test>\r\nRCPT TO:<alice@example.test>\r\n")
	if code, text := c.reply(); code != 220 {
		t.Fatalf("STARTTLS: %s", text)
	}
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
	text := c.must("EHLO client.test", 250)
	if strings.Contains(text, "2.1.0") {
		t.Fatalf("injected command answered: %q", text)
	}
	c.must("RCPT TO:<alice@example.test>", 503)
}
