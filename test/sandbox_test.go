package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/sandbox"
	"postern/internal/testenv"
)

// Started as production starts it, the server confines itself with
// Landlock: a list file that every user may read but that lies outside
// what the sandbox allows is refused to the server (the mail waits in the
// queue, the log says why), while one under maps_dir is read; postern
// check names the file outside, and postern status says the sandbox is
// active.
func TestSandboxRefusesPathsOutside(t *testing.T) {
	needRoot(t)
	if abi, why := sandbox.ABI(); abi == 0 {
		testenv.Missing(t, "Landlock in the kernel: %s", why)
	}
	s := newServer(t, serverConfig{})
	s.addUser("alice@example.test", "pw-alice")
	outside := t.TempDir()
	os.Chmod(outside, 0o755)
	list := filepath.Join(outside, "staff")
	os.WriteFile(list, []byte("alice\n"), 0o644)
	os.MkdirAll(filepath.Join(s.dir, "lists"), 0o755)
	os.WriteFile(filepath.Join(s.dir, "lists", "team"), []byte("alice\n"), 0o644)
	os.WriteFile(filepath.Join(s.dir, "aliases"), []byte("staff: :include:"+list+"\nteam: :include:lists/team\n"), 0o644)

	out, err := s.postern("", "check")
	if err == nil || !strings.Contains(out, ":include:"+list+" is outside what the sandbox lets the server read") {
		t.Errorf("check does not name the list outside the sandbox: %v\n%s", err, out)
	}
	s.start()
	c := dialFrom(t, "127.0.0.1", s.MTA)
	c.must("EHLO client.test", 250)
	for _, rcpt := range []string{"team@example.test", "staff@example.test"} {
		if code, text := c.sendMail("someone@client.test", rcpt, testMessage("someone@client.test", strings.Split(rcpt, "@")[0])); code != 250 {
			t.Fatalf("to %s: %d %s", rcpt, code, text)
		}
	}
	got := s.waitMaildir("alice@example.test", 1, 10*time.Second)
	if len(got) != 1 || !strings.Contains(got[0], "Subject: team") {
		t.Fatalf("want the team message only, got %d", len(got))
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs(), list) || !strings.Contains(s.logs(), "permission denied") {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say the list was refused:\n%s", s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(s.maildir("alice@example.test")); n != 1 {
		t.Errorf("the staff message was delivered (%d messages): the sandbox let the list through", n)
	}
	// The message waits in the queue until the list can be read.
	if out, err := s.postern("", "queue", "list"); err != nil || !strings.Contains(out, "staff@example.test") {
		t.Errorf("the staff message is not waiting in the queue: %v\n%s", err, out)
	}
	st, _ := s.postern("", "status")
	if !strings.Contains(st, "Sandbox: Landlock ABI") || !strings.Contains(st, "active") {
		t.Errorf("status does not show the sandbox:\n%s", st)
	}
}
