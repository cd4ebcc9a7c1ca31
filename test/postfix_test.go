package test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// Postfix as the sending MTA: mail injected into Postfix is relayed by
// its smtp client into postern over STARTTLS and delivered to Maildir.
func TestPostfixRelaysIntoPostern(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.9/32"}})
	s.addUser("alice@example.test", "pw")
	s.start()
	pf := testpeer.StartPostfix(t, map[string]string{
		"relayhost":               "[127.0.0.1]:" + portOf(s.MTA),
		"smtp_tls_security_level": "encrypt",
		"smtp_tls_loglevel":       "1",
	})
	for i := 0; i < 3; i++ {
		out, err := exec.Command(swaks, "--server", pf.SMTP, "--from", "sender@sender.test",
			"--to", "alice@example.test", "--header", fmt.Sprintf("Subject: via postfix %d", i),
			"--body", "relayed by postfix\n.\nafter a dot line").CombinedOutput()
		if err != nil {
			t.Fatalf("swaks into postfix: %v\n%s", err, out)
		}
	}
	msgs := s.waitMaildir("alice@example.test", 3, 60*time.Second)
	if len(msgs) != 3 {
		t.Fatalf("%d of 3 messages arrived\npostfix:\n%s", len(msgs), pf.Log())
	}
	for _, m := range msgs {
		for _, want := range []string{"by mx.example.test with ESMTPS", "by pf.sender.test", "Subject: via postfix", "after a dot line"} {
			if !strings.Contains(m, want) {
				t.Errorf("message lacks %q:\n%s", want, m)
			}
		}
	}
}

func portOf(hp string) string {
	_, p, _ := splitHostPort(hp)
	return p
}
