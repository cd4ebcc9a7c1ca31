package test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// swaks delivers to a local user over the mta listener with STARTTLS.
func TestSwaksLocalDelivery(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	s := newServer(t, serverConfig{})
	s.addUser("alice@example.test", "pw")
	s.start()
	out, err := exec.Command(swaks, "--server", s.MTA, "--tls", "--ehlo", "client.test",
		"--from", "sender@elsewhere.test", "--to", "alice@example.test",
		"--header", "Subject: swaks test", "--body", "hello from swaks").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	msgs := s.waitMaildir("alice@example.test", 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages delivered", len(msgs))
	}
	m := msgs[0]
	for _, want := range []string{"Received: from client.test", "with ESMTPS id", "(using TLSv1.3 with cipher", "Subject: swaks test", "hello from swaks"} {
		if !strings.Contains(m, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, m)
		}
	}
}

// swaks submits over 587 with STARTTLS and AUTH and relays to a remote
// domain: the message is queued for later remote delivery.
func TestSwaksSubmissionAuth(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	// DNS on loopback that cannot answer for the remote domain: the
	// messages stay queued (451 4.4.3) and nothing leaves the machine.
	dns := dnstest.Start(t, dnstest.Zone{"elsewhere.test. SERVFAIL": {""}})
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.9/32"}, Extra: fmt.Sprintf("[dns]\nservers = [%q]\n", dns.Addr)})
	s.addUser("alice@example.test", "s3cret pass")
	s.start()
	run := func(args ...string) (string, error) {
		args = append([]string{"--server", s.Sub, "--from", "alice@example.test", "--to", "friend@elsewhere.test",
			"--ehlo", "laptop.test", "--body", "via submission"}, args...)
		out, err := exec.Command(swaks, args...).CombinedOutput()
		return string(out), err
	}
	// No AUTH: refused.
	if out, err := run("--tls"); err == nil {
		t.Fatalf("submission without AUTH accepted:\n%s", out)
	}
	// AUTH without TLS: swaks must not even be offered AUTH.
	if out, err := run("--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", "s3cret pass"); err == nil {
		t.Fatalf("AUTH in plaintext accepted:\n%s", out)
	}
	// Wrong password.
	if out, err := run("--tls", "--auth", "LOGIN", "--auth-user", "alice@example.test", "--auth-password", "wrong"); err == nil {
		t.Fatalf("wrong password accepted:\n%s", out)
	}
	out, err := run("--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", "s3cret pass")
	if err != nil {
		t.Fatalf("submission failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "queued as") {
		t.Fatalf("no queue id in:\n%s", out)
	}
	// Implicit TLS on the smtps listener.
	out2, err := exec.Command(swaks, "--server", s.SMTPS, "--tls-on-connect", "--auth", "LOGIN",
		"--auth-user", "alice@example.test", "--auth-password", "s3cret pass",
		"--from", "alice@example.test", "--to", "friend@elsewhere.test", "--body", "via smtps").CombinedOutput()
	if err != nil {
		t.Fatalf("smtps failed: %v\n%s", err, out2)
	}
	// Both stay queued (the remote domain's DNS fails) and are listed.
	time.Sleep(200 * time.Millisecond)
	list, err := s.postern("", "queue", "list")
	if err != nil {
		t.Fatalf("queue list: %v\n%s", err, list)
	}
	if strings.Count(list, "friend@elsewhere.test") != 2 {
		t.Fatalf("queue list does not show both messages:\n%s", list)
	}
}

// Python's smtplib as a client: a plain send_message and an SMTPUTF8 one.
func TestPythonSmtplib(t *testing.T) {
	py := testenv.LookPath(t, "python3")
	s := newServer(t, serverConfig{})
	s.addUser("alice@example.test", "pw")
	s.start()
	host, port, _ := splitHostPort(s.MTA)
	script := `
import smtplib, sys
from email.message import EmailMessage
host, port = sys.argv[1], int(sys.argv[2])
with smtplib.SMTP(host, port, local_hostname="py.test") as c:
    c.starttls()
    m = EmailMessage()
    m["From"] = "py@elsewhere.test"
    m["To"] = "alice@example.test"
    m["Subject"] = "from smtplib"
    m.set_content("line one\n.\nline after a lone dot\n")
    c.send_message(m)
    refused = None
    try:
        c.sendmail("py@elsewhere.test", ["nobody@example.test"], "Subject: x\r\n\r\ny\r\n")
    except smtplib.SMTPRecipientsRefused as e:
        refused = e.recipients["nobody@example.test"][0]
    assert refused == 550, refused
print("ok")
`
	out, err := exec.Command(py, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	msgs := s.waitMaildir("alice@example.test", 1, 10*time.Second)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "\r\n.\r\nline after a lone dot") && !strings.Contains(msgs[0], "\n.\nline after a lone dot") {
		t.Fatalf("messages: %q", msgs)
	}
}
