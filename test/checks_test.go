package test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// checksConfig is the TOML of a test of [checks]: DNS from srv, no greet
// pause unless the test wants one.
func checksConfig(srv *dnstest.Server, extra string) string {
	cfg := fmt.Sprintf("[dns]\nservers = [%q]\ntimeout = \"2s\"\n", srv.Addr)
	if !strings.Contains(extra, "[checks.early_talker]") {
		extra += "\n[checks.early_talker]\npause = \"off\"\n"
	}
	return cfg + extra
}

// checksServer is a server with the [checks] in checks (checksConfig)
// that trusts only 127.0.0.1.
func checksServer(t *testing.T, srv *dnstest.Server, checks string) *server {
	t.Helper()
	return newServer(t, serverConfig{Trusted: []string{"127.0.0.1/32"}, Extra: checksConfig(srv, checks)})
}

// dialNoGreeting connects from src without reading the greeting.
func dialNoGreeting(t *testing.T, src, addr string) *smtpConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &smtpConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// talkFirst connects from src and says EHLO helo before the greeting;
// it returns the connection and the first reply.
func talkFirst(t *testing.T, src, addr, helo string) (*smtpConn, int, string) {
	t.Helper()
	c := dialNoGreeting(t, src, addr)
	c.send("EHLO " + helo + "\r\n")
	code, text := c.reply()
	return c, code, text
}

// sendMail runs one transaction up to the end of DATA.
func sendMail(c *smtpConn, from, to string) {
	c.t.Helper()
	c.must("MAIL FROM:<"+from+">", 250)
	c.must("RCPT TO:<"+to+">", 250)
	c.must("DATA", 354)
	c.must("From: <"+from+">\r\nSubject: checks\r\n\r\nhello\r\n.", 250)
}

func TestChecksDNSBL(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"2.0.0.127.bl.test. A":        {"127.0.0.2"},
		"3.0.0.127.bl.test. A":        {"127.0.0.10"}, // a code that does not count here
		"4.0.0.127.tf.test. SERVFAIL": {""},
	})
	s := checksServer(t, srv, `
[checks]
allow = ["127.0.0.5"]
[[checks.dnsbl.list]]
zone = "bl.test"
codes = ["127.0.0.[2-9]"]
[[checks.dnsbl.list]]
zone = "tf.test"
on_error = "tempfail"
`)
	s.addUser("user@example.test", "pw-pw-pw-pw")
	s.start()

	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<a@sender.test>", 250)
	text := c.must("RCPT TO:<user@example.test>", 550)
	if !strings.Contains(text, "5.7.1 Rejected: 127.0.0.2 listed at bl.test") {
		t.Errorf("listed client: %s", text)
	}
	// RFC 5321 4.5.1: postmaster stays reachable.
	c.must("RCPT TO:<postmaster@example.test>", 250)
	c.must("RSET", 250)

	for _, ip := range []string{"127.0.0.3", "127.0.0.5"} {
		c := dialFrom(t, ip, s.MTA)
		c.must("EHLO client.test", 250)
		sendMail(c, "a@sender.test", "user@example.test")
	}
	c = dialFrom(t, "127.0.0.4", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<a@sender.test>", 250)
	if text := c.must("RCPT TO:<user@example.test>", 451); !strings.Contains(text, "Temporary lookup failure of 127.0.0.4 at tf.test") {
		t.Errorf("DNS failure with tempfail: %s", text)
	}
	if !strings.Contains(s.logs(), "dnsbl bl.test lists 127.0.0.2") {
		t.Errorf("the log does not name the list:\n%s", s.logs())
	}
}

func TestChecksDNSBLAtConnect(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"2.0.0.127.bl.test. A": {"127.0.0.2"}, "4.0.0.127.bl.test. A": {"127.0.0.2"}})
	// sendmail's Connect: OK accepts a client even if the block lists
	// would refuse it (check_relay looks at the access map first).
	dir := mapsDir(t, map[string]string{"access": "Connect:127.0.0.4 OK\n"})
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.1/32"}, MapsDir: dir, Extra: checksConfig(srv, `
[checks.dnsbl]
stage = "connect"
[[checks.dnsbl.list]]
zone = "bl.test"
reply = "blocked, see https://bl.test/lookup?ip={ip}"
`)})
	s.start()
	c := dialNoGreeting(t, "127.0.0.2", s.MTA)
	code, text := c.reply()
	if code != 554 || !strings.Contains(text, "blocked, see https://bl.test/lookup?ip=127.0.0.2") {
		t.Errorf("listed client at connect: %s", text)
	}
	c = dialFrom(t, "127.0.0.3", s.MTA)
	c.must("EHLO client.test", 250)
	c = dialFrom(t, "127.0.0.4", s.MTA)
	c.must("EHLO client.test", 250)
	if !strings.Contains(s.logs(), "refusal overridden") || !strings.Contains(s.logs(), "Connect:127.0.0.4 OK") {
		t.Errorf("the log does not say which entry let the listed client in:\n%s", s.logs())
	}
	// The submission listener does not consult the lists.
	c = dialFrom(t, "127.0.0.2", s.Sub)
	c.must("EHLO client.test", 250)
}

func TestChecksReverseDNS(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"3.0.0.127.in-addr.arpa. PTR": {"good.client.test."},
		"good.client.test. A":         {"127.0.0.3"},
		"4.0.0.127.in-addr.arpa. PTR": {"forged.client.test."},
		"forged.client.test. A":       {"192.0.2.99"},
	})
	s := checksServer(t, srv, `
[checks.rdns]
policy = "reject"
`)
	s.addUser("user@example.test", "pw-pw-pw-pw")
	s.start()

	c := dialFrom(t, "127.0.0.3", s.MTA)
	c.must("EHLO client.test", 250)
	sendMail(c, "a@sender.test", "user@example.test")
	msgs := s.waitMaildir("user@example.test", 1, 10*time.Second)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "from client.test (good.client.test [127.0.0.3])") {
		t.Errorf("Received does not name the confirmed client: %q", msgs)
	}
	for _, ip := range []string{"127.0.0.4", "127.0.0.5"} {
		c := dialFrom(t, ip, s.MTA)
		c.must("EHLO client.test", 250)
		c.must("MAIL FROM:<a@sender.test>", 250)
		if text := c.must("RCPT TO:<user@example.test>", 550); !strings.Contains(text, "5.7.25") {
			t.Errorf("%s: %s", ip, text)
		}
		c.must("RCPT TO:<postmaster@example.test>", 250)
	}
}

func TestChecksReverseDNSTempfailPerListener(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"5.0.0.127.in-addr.arpa. SERVFAIL": {""}})
	s := checksServer(t, srv, `
[checks.rdns]
policy = "tag"
[[checks.listener]]
name = "mta"
rdns = "tempfail"
`)
	s.addUser("user@example.test", "pw-pw-pw-pw")
	s.start()
	for _, ip := range []string{"127.0.0.4", "127.0.0.5"} {
		c := dialFrom(t, ip, s.MTA)
		c.must("EHLO client.test", 250)
		c.must("MAIL FROM:<a@sender.test>", 250)
		if text := c.must("RCPT TO:<user@example.test>", 450); !strings.Contains(text, "4.7.25") {
			t.Errorf("%s: %s", ip, text)
		}
	}
}

func TestChecksEarlyTalker(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{})
	s := checksServer(t, srv, `
[checks.early_talker]
pause = "1s"
`)
	s.start()
	// A client that talks before the greeting is refused.
	if _, code, text := talkFirst(t, "127.0.0.2", s.MTA, "spam.test"); code != 554 {
		t.Errorf("early talker: %s", text)
	}
	// One that waits gets the greeting, and is remembered: its next
	// connection has no pause, so even talking at once is no offence.
	c := dialFrom(t, "127.0.0.3", s.MTA)
	c.must("EHLO patient.test", 250)
	c.must("QUIT", 221)
	c, code, text := talkFirst(t, "127.0.0.3", s.MTA, "patient.test")
	if code != 220 {
		t.Errorf("remembered client: %s", text)
	}
	if code, text := c.reply(); code != 250 {
		t.Errorf("remembered client's EHLO: %s", text)
	}
	// Trusted clients are never paused.
	if _, code, text := talkFirst(t, "127.0.0.1", s.MTA, "trusted.test"); code != 220 {
		t.Errorf("trusted client: %s", text)
	}
	if !strings.Contains(s.logs(), "early talker") {
		t.Errorf("the log does not say why:\n%s", s.logs())
	}
}

func TestChecksHelo(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"client.test. A": {"127.0.0.2"}})
	s := checksServer(t, srv, `
[checks.helo]
level = "normal"
[[checks.listener]]
name = "mta"
helo = "strict"
`)
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	for _, tt := range []struct {
		helo string
		code int
		text string
	}{
		{"my_laptop", 501, "5.5.2 invalid HELO/EHLO name"},
		{"mx.example.test", 550, "that is our name"},
		{"example.test", 550, "that is our name"},
		{"[127.0.0.9]", 550, "does not match your address 127.0.0.2"},
		{"laptop", 550, "fully-qualified"},
		{"unknown.test", 550, "no address in the DNS"},
		{"client.test", 250, ""},
		{"[127.0.0.2]", 250, ""},
	} {
		code, text := c.cmd("EHLO " + tt.helo)
		if code != tt.code || !strings.Contains(text, tt.text) {
			t.Errorf("EHLO %s: %s, want %d %s", tt.helo, text, tt.code, tt.text)
		}
	}
	// Trusted clients are exempt.
	c = dialFrom(t, "127.0.0.1", s.MTA)
	c.must("EHLO my_laptop", 250)
}

// Without [checks], unknown clients of the mta listener wait one second
// for the greeting, and one that talks first is refused.
func TestChecksDefaultGreetPause(t *testing.T) {
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.1/32"}})
	s.start()
	if _, code, text := talkFirst(t, "127.0.0.6", s.MTA, "spam.test"); code != 554 {
		t.Errorf("early talker with the default settings: %s", text)
	}
	// Submission clients are not paused.
	if _, code, text := talkFirst(t, "127.0.0.6", s.Sub, "laptop"); code != 220 {
		t.Errorf("submission: %s", text)
	}
}

// A HELO check on a submission listener spares users who authenticate:
// mail programs say EHLO with whatever name the laptop has.
func TestChecksHeloSparesAuthenticatedUsers(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	srv := dnstest.Start(t, dnstest.Zone{})
	s := checksServer(t, srv, `
[checks.helo]
level = "normal"
[[checks.listener]]
name = "submission"
helo = "normal"
`)
	s.addUser("alice@example.test", "s3cret pass")
	s.start()
	out, err := exec.Command(swaks, "--server", s.Sub, "--ehlo", "my_laptop", "--tls", "--auth", "PLAIN",
		"--auth-user", "alice@example.test", "--auth-password", "s3cret pass",
		"--from", "alice@example.test", "--to", "alice@example.test", "--body", "from my laptop").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "queued as") {
		t.Fatalf("authenticated submission with a bad EHLO: %v\n%s", err, out)
	}
	// The same name from another server on the mta listener is refused.
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO my_laptop", 501)
}

func TestChecksGreylist(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{})
	s := checksServer(t, srv, `
[checks.greylist]
enabled = true
delay = "1s"
auto_allow_after = 1
`)
	s.addUser("user@example.test", "pw-pw-pw-pw")
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<a@sender.test>", 250)
	if text := c.must("RCPT TO:<user@example.test>", 451); !strings.Contains(text, "4.7.1 greylisted") {
		t.Errorf("first attempt: %s", text)
	}
	c.must("QUIT", 221)
	// The sender retries after the delay and gets through.
	deadline := time.Now().Add(15 * time.Second)
	for {
		time.Sleep(1200 * time.Millisecond)
		c = dialFrom(t, "127.0.0.2", s.MTA)
		c.must("EHLO client.test", 250)
		c.must("MAIL FROM:<a@sender.test>", 250)
		code, text := c.cmd("RCPT TO:<user@example.test>")
		if code == 250 {
			break
		}
		if code != 451 || time.Now().After(deadline) {
			t.Fatalf("retry: %s", text)
		}
		c.must("QUIT", 221)
	}
	c.must("DATA", 354)
	c.must("From: <a@sender.test>\r\nSubject: greylisted\r\n\r\nhello\r\n.", 250)
	if msgs := s.waitMaildir("user@example.test", 1, 10*time.Second); len(msgs) != 1 {
		t.Errorf("delivered %d messages", len(msgs))
	}
	// One pass allows the client's network (auto_allow_after = 1): a new
	// sender from 127.0.0.0/24 is not greylisted.
	c = dialFrom(t, "127.0.0.9", s.MTA)
	c.must("EHLO client.test", 250)
	sendMail(c, "b@other.test", "user@example.test")
}

func TestChecksConfigErrors(t *testing.T) {
	s := newServer(t, serverConfig{Extra: `
[checks.rdns]
policy = "drop"
[[checks.dnsbl.list]]
zone = "bl.test"
codes = ["127.0.0.[5-2]"]
[[checks.listener]]
name = "nosuch"
`})
	out, err := s.postern("", "check")
	if err == nil {
		t.Fatalf("check accepted a bad [checks]:\n%s", out)
	}
	for _, want := range []string{`checks.rdns.policy "drop"`, "runs backwards", `no listener named "nosuch"`} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "postern.toml:") {
		t.Errorf("no file:line in:\n%s", out)
	}
}
