package test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/testenv"
)

// login opens an authenticated session on the submission port (STARTTLS)
// or the smtps port (implicit TLS).
func (s *server) login(addr, user, pw string) *smtpConn {
	s.t.Helper()
	var c *smtpConn
	if addr == s.SMTPS {
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		tc, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			s.t.Fatal(err)
		}
		c = &smtpConn{t: s.t, nc: tc, r: bufio.NewReader(tc)}
		c.reply()
	} else {
		c = dialFrom(s.t, "127.0.0.2", addr)
		c.must("EHLO client.test", 250)
		c.must("STARTTLS", 220)
		tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			s.t.Fatal(err)
		}
		c.nc, c.r = tc, bufio.NewReader(tc)
	}
	c.must("EHLO client.test", 250)
	c.must("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pw)), 235)
	return c
}

// A logged-in user sends only with addresses they own: their own, those
// the sender-login map gives them, and those their aliases deliver to
// them; on submission and smtps, for the envelope and the From: header,
// with the server started as production starts it. Nothing is signed
// for an address the login does not own.
func TestSenderLoginMismatch(t *testing.T) {
	needRoot(t)
	swaks := testenv.LookPath(t, "swaks")
	s := newServer(t, serverConfig{Extra: "[dkim]\nactivate_after = \"1s\"\n"})
	for _, u := range []string{"carol", "boss", "alice"} {
		s.addUser(u+"@example.test", "pw-"+u)
	}
	os.WriteFile(filepath.Join(s.dir, "sender-login"), []byte("# carol is the boss's assistant\nboss@example.test carol@example.test\n"), 0o600)
	os.WriteFile(filepath.Join(s.dir, "aliases"), []byte("sales: alice\n"), 0o600)
	if out, err := s.postern("", "set-permissions"); err != nil {
		t.Fatalf("set-permissions: %v\n%s", err, out)
	}
	if out, err := s.postern("", "dkim", "keygen", "-domain", "example.test", "-selector", "s1"); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	time.Sleep(1100 * time.Millisecond) // activate_after
	s.start()

	for _, port := range []string{s.Sub, s.SMTPS} {
		c := s.login(port, "carol@example.test", "pw-carol")
		if code, text := c.cmd("MAIL FROM:<ceo@example.test>"); code != 553 || !strings.Contains(text, "5.7.1") || !strings.Contains(text, "carol@example.test") || !strings.Contains(text, "ceo@example.test") {
			t.Errorf("%s: carol as ceo@: %d %s, want 553 5.7.1 naming both", port, code, text)
		}
		if code, text := c.cmd("MAIL FROM:<ceo@bank.example>"); code != 553 {
			t.Errorf("%s: carol as ceo@bank.example: %d %s", port, code, text)
		}
		// Her own envelope, someone else's From: refused at the end of DATA.
		code, text := c.sendMail("carol@example.test", "alice@example.test", testMessage(`"The CEO" <ceo@example.test>`, "forged"))
		if code != 550 || !strings.Contains(text, "5.7.1") || !strings.Contains(text, "ceo@example.test") {
			t.Errorf("%s: From: ceo@ by carol: %d %s, want 550 5.7.1", port, code, text)
		}
		c.cmd("QUIT")
	}
	// What the map and the aliases give is allowed, and signed.
	if code, text := s.login(s.Sub, "carol@example.test", "pw-carol").sendMail("boss@example.test", "alice@example.test", testMessage(`"The Boss" <boss@example.test>`, "for-the-boss")); code != 250 {
		t.Fatalf("carol as the boss (sender-login): %d %s", code, text)
	}
	if code, text := s.login(s.SMTPS, "alice@example.test", "pw-alice").sendMail("sales@example.test", "alice@example.test", testMessage("Sales <sales@example.test>", "from-sales")); code != 250 {
		t.Fatalf("alice as sales@ (alias): %d %s", code, text)
	}
	got := s.waitMaildir("alice@example.test", 2, 10*time.Second)
	if len(got) != 2 {
		t.Fatalf("alice has %d messages, want 2", len(got))
	}
	for _, m := range got {
		if strings.Contains(m, "forged") {
			t.Errorf("a refused message was delivered:\n%s", m)
		}
		if !strings.Contains(headerOf(m), "d=example.test") {
			t.Errorf("an allowed message is not signed:\n%s", headerOf(m))
		}
	}

	// swaks, as an admin would try it.
	out, err := exec.Command(swaks, "--server", s.Sub, "--tls", "--auth", "PLAIN", "--auth-user", "carol@example.test",
		"--auth-password", "pw-carol", "--from", "ceo@example.test", "--to", "alice@example.test").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "553 5.7.1") {
		t.Errorf("swaks as ceo@: err %v\n%s", err, out)
	}
	// The log and explain say why.
	if !strings.Contains(s.logs(), "sender not owned by login") {
		t.Errorf("no log line for the refusal:\n%s", s.logs())
	}
	ex, err := s.postern("", "explain", "-client", "127.0.0.2", "-auth", "carol@example.test", "-from", "ceo@bank.example", "-rcpt", "alice@example.test")
	if err == nil || !strings.Contains(ex, "553 5.7.1") || !strings.Contains(ex, "sender_login") {
		t.Errorf("explain: err %v\n%s", err, ex)
	}
	ex, err = s.postern("", "explain", "-client", "127.0.0.2", "-auth", "carol@example.test", "-from", "boss@example.test", "-rcpt", "alice@example.test")
	if err != nil || !strings.Contains(ex, "sender-login line 2") {
		t.Errorf("explain for the boss: err %v\n%s", err, ex)
	}
}
