package test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// opendkimKey makes an RSA key for selector "milter" of example.org and
// returns the key file and the DNS record.
func opendkimKey(t *testing.T, dir string) (keyFile, record string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, "milter.private")
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return keyFile, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
}

// startOpenDKIM runs Debian's opendkim as a milter on a loopback port,
// signing for example.org (Mode sv) and resolving through the loopback
// DNS server. It returns the socket in sendmail's form.
func startOpenDKIM(t *testing.T, keyFile string, dns *dnstest.Server) string {
	return startOpenDKIMFor(t, keyFile, dns, "example.org", "127.0.0.1")
}

// startOpenDKIMFor signs for domain, and for mail from internal (its
// InternalHosts) or from authenticated clients.
func startOpenDKIMFor(t *testing.T, keyFile string, dns *dnstest.Server, domain, internal string) string {
	t.Helper()
	conf := fmt.Sprintf("Mode sv\nDomain %s\nSelector milter\nKeyFile %s\nInternalHosts %s\nRequireSafeKeys no\nBackground no\n",
		domain, keyFile, internal)
	_, port, _ := strings.Cut(testpeer.StartOpenDKIM(t, conf, dns.Addr), ":")
	return "inet:" + port + "@127.0.0.1"
}

// milterConfig is the [[milter]] table and the DNS settings of a test.
func milterConfig(socket, flags string, dns *dnstest.Server) string {
	return fmt.Sprintf(`[dns]
servers = [%q]
timeout = "3s"

[[milter]]
name = "opendkim"
socket = %q
flags = %q
timeouts = "C:2s;S:5s;R:5s;E:30s"
`, dns.Addr, socket, flags)
}

// milterServer starts postern with the milter at socket (flags its F=)
// and a mailbox for bob@example.test.
func milterServer(t *testing.T, socket, flags string, dns *dnstest.Server) *server {
	t.Helper()
	s := newServer(t, serverConfig{Extra: milterConfig(socket, flags, dns)})
	s.addUser("bob@example.test", "bob-password-1")
	s.start()
	return s
}

// milterMessage has a folded header and trailing white space, which
// simple canonicalization keeps as they are.
const milterMessage = "From: Alice <alice@example.org>\r\n" +
	"To: bob@example.test\r\n" +
	"Subject: signed by a milter,\r\n" +
	"  on a folded line\r\n" +
	"Date: Sat, 21 Nov 2026 01:00:00 +0000\r\n" +
	"Message-ID: <milter-1@example.org>\r\n" +
	"\r\n" +
	"Hello Bob,  \r\n" +
	"\tthis body is signed.\r\n"

// sendThrough runs one transaction from 127.0.0.1 and returns the
// replies to MAIL and to the end of DATA (0 when MAIL was refused).
func sendThrough(t *testing.T, addr, msg string) (mailCode, dataCode int, text string) {
	t.Helper()
	c := dialFrom(t, "127.0.0.1", addr)
	c.must("EHLO client.example.org", 250)
	mailCode, text = c.cmd("MAIL FROM:<alice@example.org>")
	if mailCode != 250 {
		return mailCode, 0, text
	}
	c.must("RCPT TO:<bob@example.test>", 250)
	c.must("DATA", 354)
	c.send(msg + ".\r\n")
	dataCode, text = c.reply()
	c.cmd("QUIT")
	return mailCode, dataCode, text
}

// TestMilterOpenDKIMSigns sends mail through postern with Debian's
// opendkim as its milter, and checks that the delivered message carries
// opendkim's signature and that the signature verifies.
func TestMilterOpenDKIMSigns(t *testing.T) {
	testenv.LookPath(t, "opendkim")
	keyFile, record := opendkimKey(t, t.TempDir())
	dns := dnstest.Start(t, dnstest.Zone{"milter._domainkey.example.org TXT": {record}})
	socket := startOpenDKIM(t, keyFile, dns)

	s := milterServer(t, socket, "T", dns)
	if _, code, text := sendThrough(t, s.MTA, milterMessage); code != 250 {
		t.Fatalf("DATA: %s", text)
	}
	msgs := s.waitMaildir("bob@example.test", 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("delivered %d messages\n%s", len(msgs), s.logs())
	}
	// Maildir files end lines in LF; the message travels with CRLF.
	msg := strings.ReplaceAll(msgs[0], "\n", "\r\n")
	if !strings.Contains(msg, "DKIM-Signature:") || !strings.Contains(msg, "d=example.org") {
		t.Fatalf("no DKIM-Signature from opendkim:\n%s", msg)
	}
	if !strings.Contains(msg, milterMessage[:strings.Index(milterMessage, "Date:")]) || !strings.HasSuffix(msg, "\r\n\r\nHello Bob,  \r\n\tthis body is signed.\r\n") {
		t.Errorf("message content changed:\n%q", msg)
	}
	before := dns.Queries()
	out := testpeer.OpenDKIMVerify(t, dns.Addr, msg)
	if !strings.Contains(out, "dkim=pass") || !strings.Contains(out, "header.d=example.org") {
		t.Errorf("opendkim does not verify the signature it made through postern:\n%s\nmessage:\n%s", out, msg)
	}
	if dns.Queries() <= before {
		t.Error("the verifier did not query the loopback DNS server")
	}
	// Control: the same message with its body changed fails.
	out = testpeer.OpenDKIMVerify(t, dns.Addr, strings.Replace(msg, "this body is signed", "this body is changed", 1))
	if !strings.Contains(out, "dkim=fail") {
		t.Errorf("a changed message still verifies:\n%s", out)
	}
	if !strings.Contains(s.logs(), "milter changes") {
		t.Errorf("no log line for the milter's change:\n%s", s.logs())
	}
}

// TestMilterDown checks F=T (451, nothing delivered) and no flags (the
// mail passes unsigned) with no milter listening.
func TestMilterDown(t *testing.T) {
	dns := dnstest.Start(t, dnstest.Zone{})
	dead := strings.TrimPrefix(freePort(t), "127.0.0.1:")
	socket := "inet:" + dead + "@127.0.0.1"

	closed := milterServer(t, socket, "T", dns)
	code, _, text := sendThrough(t, closed.MTA, milterMessage)
	if code != 451 || !strings.Contains(text, "4.3.2") {
		t.Errorf("F=T with the milter down: MAIL got %q, want 451 4.3.2", text)
	}
	if !strings.Contains(closed.logs(), "milter failed") {
		t.Errorf("no log line for the failed milter:\n%s", closed.logs())
	}

	open := milterServer(t, socket, "", dns)
	if _, code, text := sendThrough(t, open.MTA, milterMessage); code != 250 {
		t.Fatalf("no flags with the milter down: DATA got %q, want 250", text)
	}
	msgs := open.waitMaildir("bob@example.test", 1, 10*time.Second)
	if len(msgs) != 1 || strings.Contains(msgs[0], "DKIM-Signature:") {
		t.Fatalf("fail open: delivered %d messages:\n%s", len(msgs), strings.Join(msgs, "\n---\n"))
	}
	if len(closed.maildir("bob@example.test")) != 0 {
		t.Error("F=T delivered mail while the milter was down")
	}
}

// startRspamd runs Debian's rspamd with its proxy worker as a milter on a
// loopback port: a minimal configuration of our own (no modules, so no
// network besides the loopback DNS server), every message over the
// add_header threshold, GTUBE rejected by rspamd's core.
func startRspamd(t *testing.T, rspamd string, dns *dnstest.Server) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	if err := os.Chmod(dir, 0o777); err != nil { // rspamd drops to nobody
		t.Fatal(err)
	}
	port := strings.TrimPrefix(freePort(t), "127.0.0.1:")
	conf := filepath.Join(dir, "rspamd.conf")
	text := fmt.Sprintf(`options {
  pidfile = "%s/rspamd.pid";
  dns { nameserver = ["%s"]; timeout = 1s; retransmits = 1; }
}
logging { type = "console"; level = "notice"; }
actions { reject = 15; add_header = -1; }
worker "rspamd_proxy" {
  bind_socket = "127.0.0.1:%s";
  milter = yes;
  timeout = 60s;
  count = 1;
  upstream "local" { default = yes; self_scan = yes; }
}
`, dir, dns.Addr, port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rspamd, "-f", "-u", "nobody", "-g", "nogroup", "-c", conf)
	if os.Geteuid() != 0 {
		cmd = exec.Command(rspamd, "-f", "-c", conf)
	}
	testpeer.StartProgram(t, "rspamd", cmd, os.Interrupt, "127.0.0.1:"+port)
	return "inet:127.0.0.1:" + port
}

// gtube is SpamAssassin's test pattern, which rspamd rejects.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// TestMilterRspamd runs mail through rspamd's milter: a message gets
// rspamd's header, the GTUBE message is refused with rspamd's reply.
func TestMilterRspamd(t *testing.T) {
	rspamd := testenv.LookPath(t, "rspamd")
	dns := dnstest.Start(t, dnstest.Zone{})
	socket := startRspamd(t, rspamd, dns)
	extra := strings.Replace(milterConfig(socket, "T", dns), `name = "opendkim"`, `name = "rspamd"`, 1)
	s := newServer(t, serverConfig{Extra: extra})
	s.addUser("bob@example.test", "bob-password-1")
	s.start()

	if _, code, text := sendThrough(t, s.MTA, milterMessage); code != 250 {
		t.Fatalf("DATA: %s", text)
	}
	msgs := s.waitMaildir("bob@example.test", 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("delivered %d messages", len(msgs))
	}
	if !strings.Contains(msgs[0], "\nX-Spam: Yes\n") {
		t.Errorf("no X-Spam header from rspamd:\n%s", msgs[0])
	}

	spam := strings.Replace(milterMessage, "this body is signed.", gtube, 1)
	_, code, text := sendThrough(t, s.MTA, spam)
	if code != 554 || !strings.Contains(text, "5.7.1 Gtube pattern") {
		t.Fatalf("GTUBE: DATA got %q, want rspamd's 554 5.7.1 Gtube pattern", text)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(s.maildir("bob@example.test")); n != 1 {
		t.Errorf("%d messages delivered, want only the first", n)
	}
}

// TestMilterOpenDKIMSignsSubmission has opendkim sign for a user who
// authenticated on the submission listener from an address that is not
// one of opendkim's InternalHosts: opendkim learns of the AUTH from the
// {auth_type} and {auth_authen} macros. (The signing domain is
// example.org: opendkim's resolver, unbound, never resolves .test.)
func TestMilterOpenDKIMSignsSubmission(t *testing.T) {
	testenv.LookPath(t, "opendkim")
	swaks := testenv.LookPath(t, "swaks")
	keyFile, record := opendkimKey(t, t.TempDir())
	dns := dnstest.Start(t, dnstest.Zone{"milter._domainkey.example.org TXT": {record}})
	socket := startOpenDKIMFor(t, keyFile, dns, "example.org", "127.0.0.99")
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.99/32"}, Extra: milterConfig(socket, "T", dns)})
	s.addUser("alice@example.test", "s3cret pass")
	s.addUser("bob@example.test", "bob-password-1")
	// alice signs her mail as example.org: the sender-login map lets her.
	if err := os.WriteFile(filepath.Join(s.dir, "sender-login"), []byte("@example.org alice@example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start()
	out, err := exec.Command(swaks, "--server", s.Sub, "--ehlo", "laptop.example.test", "--tls", "--auth", "LOGIN",
		"--auth-user", "alice@example.test", "--auth-password", "s3cret pass",
		"--from", "alice@example.test", "--to", "bob@example.test",
		"--header", "From: Alice <alice@example.org>", "--header", "Subject: from my laptop",
		"--body", "signed after AUTH").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "queued as") {
		t.Fatalf("submission: %v\n%s", err, out)
	}
	msgs := s.waitMaildir("bob@example.test", 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("delivered %d messages", len(msgs))
	}
	msg := strings.ReplaceAll(msgs[0], "\n", "\r\n")
	if !strings.Contains(msg, "DKIM-Signature:") || !strings.Contains(msg, "d=example.org") {
		t.Fatalf("opendkim did not sign for the authenticated user:\n%s", msg)
	}
	if out := testpeer.OpenDKIMVerify(t, dns.Addr, msg); !strings.Contains(out, "dkim=pass") {
		t.Errorf("signature does not verify:\n%s", out)
	}
}
