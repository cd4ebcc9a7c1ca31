package test

import (
	"testing"
)

// The classic open-relay probe set, sent from a client that is neither
// trusted nor authenticated: every recipient must be refused at RCPT, for
// every sender variation.
func TestOpenRelayProbesRefused(t *testing.T) {
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.1/32"}})
	s.start()
	_, port, _ := splitHostPort(s.MTA)
	senders := []string{
		"<>",
		"<spoof@example.test>",
		"<postmaster@example.test>",
		"<user@[127.0.0.1]>",
		"<user@relay-target.test>",
	}
	rcpts := []string{
		"<victim@relay-target.test>",
		"<victim@RELAY-TARGET.TEST.>",
		"<victim%relay-target.test@example.test>",
		"<victim%relay-target.test@[127.0.0.1]>",
		"<victim%relay-target.test@mx.example.test>",
		`<"victim@relay-target.test">`,
		`<"victim@relay-target.test"@example.test>`,
		`<"victim%relay-target.test"@example.test>`,
		"<victim@relay-target.test@example.test>",
		"<@example.test:victim@relay-target.test>",
		"<@example.test,@mx.example.test:victim@relay-target.test>",
		"<relay-target.test!victim@example.test>",
		"<relay-target.test!victim>",
		"<relay-target.test!victim@[127.0.0.1]>",
		"<victim@[203.0.113.5]>",
		"<victim@[IPv6:2001:db8::5]>",
		"<victim@example.test.relay-target.test>",
		"<victim@relay-target.example.test>",
		"<victim@notexample.test>",
		"<victim@relay-target.test%example.test>",
		"<victim@relay-target.test:" + port + ">",
	}
	for _, from := range senders {
		// One connection per sender: the error limit counts refusals.
		c := dialFrom(t, "127.0.0.2", s.MTA)
		c.must("EHLO prober.test", 250)
		for i, rcpt := range rcpts {
			if i > 0 && i%5 == 0 {
				c.nc.Close()
				c = dialFrom(t, "127.0.0.2", s.MTA)
				c.must("EHLO prober.test", 250)
			}
			c.must("MAIL FROM:"+from, 250)
			code, text := c.cmd("RCPT TO:" + rcpt)
			if code < 500 {
				t.Errorf("MAIL FROM:%s RCPT TO:%s: %s (want a 5xx refusal)", from, rcpt, text)
			}
			c.must("RSET", 250)
		}
	}
	c := dialFrom(t, "127.0.0.2", s.MTA)
	// HELO claiming to be us, or a local domain, changes nothing.
	c.must("EHLO mx.example.test", 250)
	c.must("MAIL FROM:<postmaster@example.test>", 250)
	if code, text := c.cmd("RCPT TO:<victim@relay-target.test>"); code != 550 {
		t.Errorf("HELO as ourselves relayed: %s", text)
	}
}

// Relaying works for the trusted network and for authenticated users, and
// mail for our own domains is taken from anyone.
func TestRelayAllowedWhereItShould(t *testing.T) {
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.1/32"}, Relay: []string{"backup.test"}})
	s.addUser("alice@example.test", "correct horse")
	s.start()

	stranger := dialFrom(t, "127.0.0.2", s.MTA)
	stranger.must("EHLO stranger.test", 250)
	stranger.must("MAIL FROM:<someone@elsewhere.test>", 250)
	stranger.must("RCPT TO:<alice@example.test>", 250)
	stranger.must("RCPT TO:<ALICE@Example.Test.>", 250)
	stranger.must("RCPT TO:<postmaster@example.test>", 250)
	stranger.must("RCPT TO:<postmaster>", 250)
	stranger.must("RCPT TO:<x@backup.test>", 250)
	stranger.must("RCPT TO:<x@sub.backup.test>", 250)
	stranger.must("RCPT TO:<nobody@example.test>", 550) // no backscatter: refused now
	stranger.must("RCPT TO:<x@elsewhere.test>", 550)

	trusted := dialFrom(t, "127.0.0.1", s.MTA)
	trusted.must("EHLO trusted.test", 250)
	trusted.must("MAIL FROM:<app@example.test>", 250)
	trusted.must("RCPT TO:<x@elsewhere.test>", 250)
	trusted.must("RCPT TO:<nobody@example.test>", 550)
}

func splitHostPort(hp string) (string, string, error) {
	for i := len(hp) - 1; i >= 0; i-- {
		if hp[i] == ':' {
			return hp[:i], hp[i+1:], nil
		}
	}
	return hp, "", nil
}
