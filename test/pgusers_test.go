package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// TestPostgresUsers keeps the AUTH users in a PostgreSQL table (the
// layout of docs/maps.md), as a fleet of gateways shares them: `postern
// user` run as root writes the table, the server (started as root,
// running as nobody) logs them in with swaks; a suspension holds within
// the refresh and a resume lifts it; with the database down past the
// stale period AUTH answers 454 and local recipients 451, never 535 or
// "no such user".
func TestPostgresUsers(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	p := testpeer.StartPostgres(t)
	p.Exec(t, `CREATE TABLE postern_users (
		address text PRIMARY KEY, hash text NOT NULL,
		suspended boolean NOT NULL DEFAULT false, revoked boolean NOT NULL DEFAULT false, admin boolean NOT NULL DEFAULT false);
		ALTER TABLE postern_users OWNER TO postern;`)
	pwFile := filepath.Join(testenv.OpenTempDir(t), "pg.secret")
	testenv.WriteFile(t, pwFile, p.Password+"\n", 0o600)
	s := newServer(t, serverConfig{Extra: fmt.Sprintf(`
[postgres_users]
url = "postgres://%s@%s/postern?sslmode=disable"
password_file = %q
refresh = "2s"
stale = "4s"
timeout = "2s"
`, p.User, p.Addr, pwFile)})
	s.addUser("alice@example.test", "s3cret pass")
	s.addUser("bob@example.test", "pw")
	if got := p.Exec(t, "SELECT address FROM postern_users ORDER BY address"); !strings.Contains(got, "alice@example.test\nbob@example.test") {
		t.Fatalf("the table after postern user add: %q", got)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", "users")); err == nil {
		t.Error("postern user add wrote the users file, not the table")
	}
	s.start()
	login := func() (string, error) {
		out, err := exec.Command(swaks, "--server", s.Sub, "--ehlo", "laptop.test", "--tls", "--auth", "PLAIN",
			"--auth-user", "alice@example.test", "--auth-password", "s3cret pass",
			"--from", "alice@example.test", "--to", "bob@example.test", "--body", "from the table").CombinedOutput()
		return string(out), err
	}
	if out, err := login(); err != nil {
		t.Fatalf("AUTH with a user from the table: %v\n%s", err, out)
	}
	if len(s.waitMaildir("bob@example.test", 1, 10*time.Second)) != 1 {
		t.Fatal("the message did not reach bob")
	}
	rcptAnswers(t, s, map[string]int{"bob@example.test": 250, "nobody@example.test": 550})

	user := func(action string) {
		t.Helper()
		if out, err := s.postern("", "user", action, "alice@example.test"); err != nil || !strings.Contains(out, "table postern_users") {
			t.Fatalf("postern user %s: %v\n%s", action, err, out)
		}
	}
	user("suspend")
	since := time.Now()
	waitFor(t, func() bool { out, _ := login(); return strings.Contains(out, "535") })
	if d := time.Since(since); d > 2*time.Second+3*time.Second {
		t.Errorf("the suspension took %s to hold (refresh 2s)", d)
	}
	if out, err := s.postern("", "user", "list"); err != nil || !strings.Contains(out, "alice@example.test (suspended)") {
		t.Errorf("postern user list: %v\n%s", err, out)
	}
	// Each version of the table is in the change log, the hashes hidden.
	var entry string
	waitFor(t, func() bool {
		out, _ := s.postern("", "changes", "list")
		m := regexp.MustCompile(`(?m)^(\d+)\s.*postern_users.*\schange\s+applied`).FindStringSubmatch(out)
		if m != nil {
			entry = m[1]
		}
		return m != nil
	})
	if out, err := s.postern("", "changes", "show", entry); err != nil || !strings.Contains(out, "+alice@example.test:(hash ") || strings.Contains(out, "$argon2") {
		t.Errorf("changes show %s (the suspension): %v\n%s", entry, err, out)
	}
	user("resume")
	waitFor(t, func() bool { _, err := login(); return err == nil })

	p.Stop()
	waitFor(t, func() bool { out, _ := login(); return strings.Contains(out, "454 4.7.0") })
	if out, _ := login(); strings.Contains(out, "535") {
		t.Errorf("a database down past stale gave 535:\n%s", out)
	}
	rcptAnswers(t, s, map[string]int{"bob@example.test": 451, "nobody@example.test": 451, "x@elsewhere.test": 550})
	if out, err := s.postern("", "user", "suspend", "alice@example.test"); err == nil {
		t.Errorf("postern user suspend with the database down succeeded:\n%s", out)
	}
	if out, err := s.postern("", "check"); err == nil || !strings.Contains(out, "table postern_users") {
		t.Errorf("postern check with the database down: %v\n%s", err, out)
	}

	p.Start(t)
	waitFor(t, func() bool { _, err := login(); return err == nil })
	rcptAnswers(t, s, map[string]int{"bob@example.test": 250, "nobody@example.test": 550})
	if out, err := s.postern("", "check"); err != nil {
		t.Errorf("postern check with the database up: %v\n%s", err, out)
	}
}
