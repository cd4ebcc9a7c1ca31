package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/ratelimit/redistest"
	"postern/internal/testpeer"
)

// pgBackend starts PostgreSQL and returns the [ratelimit] keys that use
// it, the password in a file only root may read: the server reads it
// before it drops to nobody.
func pgBackend(t *testing.T) (*testpeer.Postgres, string) {
	pg := testpeer.StartPostgres(t)
	pwFile := filepath.Join(t.TempDir(), "db.password")
	if err := os.WriteFile(pwFile, []byte(pg.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("postgres://%s@%s/postern?sslmode=disable", pg.User, pg.Addr)
	return pg, fmt.Sprintf("backend = \"postgres\"\npostgres_url = %q\npostgres_password_file = %q\n", url, pwFile)
}

// Two postern processes sharing one PostgreSQL database enforce one
// combined limit, as with Redis.
func TestRateLimitPostgresFleet(t *testing.T) {
	pg, keys := pgBackend(t)
	rlFleet(t, keys, pg.Stop)
	pg.Start(t)
	if out := pg.Exec(t, `SELECT count(*) FROM postern_rate_windows`); out == "0" {
		t.Fatal("no window row in the database")
	}
}

// A suspension made with one node's `postern user suspend` holds on the
// other node sharing the backend; resume lifts it there too; with the
// backend gone a login gets 454 4.7.0, never a success.
func TestSuspensionRedisFleet(t *testing.T) {
	rds := redistest.Start(t)
	suspensionFleet(t, fmt.Sprintf("backend = \"redis\"\nredis_url = %q\n", rds.URL()), rds.Stop)
}

func TestSuspensionPostgresFleet(t *testing.T) {
	pg, keys := pgBackend(t)
	suspensionFleet(t, keys, pg.Stop)
}

func suspensionFleet(t *testing.T, keys string, stop func()) {
	conf := "\n[ratelimit]\n" + keys
	a := newServer(t, serverConfig{Extra: conf})
	b := newServer(t, serverConfig{Extra: conf})
	for _, s := range []*server{a, b} {
		s.addUser("alice@example.test", "pw")
		s.addUser("bob@example.test", "pw")
		s.start()
	}
	var open *smtpConn // a session of alice's on b, logged in before the suspension
	login := func(s *server, src, user string) (int, string) {
		c, code, text := rlGreetTLS(t, src, s.SMTPS)
		if code != 220 {
			t.Fatalf("greeting %d %s", code, text)
		}
		c.must("EHLO client.test", 250)
		open = c
		return c.cmd(auth(user, "pw"))
	}
	if code, text := login(b, "127.0.0.50", "alice@example.test"); code != 235 {
		t.Fatalf("login before the suspension: %d %s", code, text)
	}
	before := open
	if out, err := a.postern("", "user", "suspend", "alice@example.test"); err != nil {
		t.Fatalf("user suspend on a: %v\n%s", err, out)
	}
	// Her mail on the session still open on b is taken and held.
	if code, text := before.sendMail("alice@example.test", "bob@example.test", testMessage("alice@example.test", "held")); code != 250 {
		t.Fatalf("mail on the open session: %d %s", code, text)
	}
	eventually(t, 5*time.Second, "mail held on b", func() bool { return strings.Contains(b.logs(), "auth=alice@example.test action=hold") })
	if got := b.maildir("bob@example.test"); len(got) != 0 {
		t.Fatalf("mail of a suspended user delivered on b: %d messages", len(got))
	}
	for _, s := range []*server{a, b} {
		code, text := login(s, "127.0.0.51", "alice@example.test")
		wantRefusal(t, "login of a user suspended on node a", code, text, 535, "5.7.8")
	}
	if code, text := login(b, "127.0.0.52", "bob@example.test"); code != 235 {
		t.Fatalf("another user: %d %s", code, text)
	}
	if out, err := a.postern("", "user", "resume", "alice@example.test"); err != nil {
		t.Fatalf("user resume on a: %v\n%s", err, out)
	}
	if code, text := login(b, "127.0.0.53", "alice@example.test"); code != 235 {
		t.Fatalf("login after resume on a: %d %s", code, text)
	}
	stop()
	code, text := login(b, "127.0.0.54", "bob@example.test")
	wantRefusal(t, "login with the backend down", code, text, 454, "4.7.0")
	if out, err := a.postern("", "user", "suspend", "bob@example.test"); err == nil || !strings.Contains(out, "were not told") {
		t.Fatalf("suspend with the backend down: %v\n%s", err, out)
	}
}
