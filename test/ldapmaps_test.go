package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// TestLDAPMaps serves a sendmail site's maps from Debian's slapd with
// sendmail's schema, unchanged: the access, virtusertable, aliases and
// local-host-names entries of the gateways' cluster decide as the files
// would. With the directory stopped past the stale period, every
// recipient gets 4xx (no "no such user", no relay); when it is back, the
// same answers return. The server starts as root and drops to the
// service user; the bind password file is root's alone.
func TestLDAPMaps(t *testing.T) {
	ldif, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "ldapmaps", "testdata", "directory.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	d := testpeer.StartSlapd(t, string(ldif))
	dir := testenv.OpenTempDir(t)
	pwFile := filepath.Join(dir, "ldap.secret")
	testenv.WriteFile(t, pwFile, d.Password+"\n", 0o600)
	s := newServer(t, serverConfig{Extra: fmt.Sprintf(`
[ldap_maps]
url = %q
base = "ou=mail,%s"
bind_dn = %q
password_file = %q
cluster = "gateways"
maps = ["access", "virtusertable", "aliases", "local-host-names"]
refresh = "1s"
stale = "2s"
timeout = "2s"
`, d.URL, d.Suffix, d.BindDN, pwFile)})
	s.addUser("alice@example.test", "pw")
	s.addUser("bob@example.test", "pw")
	s.start()

	answers := func(want map[string]int) { t.Helper(); rcptAnswers(t, s, want) }
	up := map[string]int{"info@virtual.example": 250, "nobody@virtual.example": 550, "x@elsewhere.test": 550}
	answers(up)

	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<spammer@bad.example>", 550)
	// Another cluster's entry is not ours.
	c.must("MAIL FROM:<other@bad.example>", 250)
	c.must("RCPT TO:<info@virtual.example>", 250)
	c.must("DATA", 354)
	c.must("From: other@bad.example\r\nSubject: from the directory\r\n\r\nhello\r\n.", 250)
	c.cmd("QUIT")
	// virtusertable -> staff, and the alias staff -> alice, bob.
	if len(s.waitMaildir("alice@example.test", 1, 10*time.Second)) != 1 || len(s.waitMaildir("bob@example.test", 1, 10*time.Second)) != 1 {
		t.Fatal("the directory's alias staff did not reach alice and bob")
	}

	// An entry added in the directory applies within the refresh, and the
	// new version of the map is in the change log with its diff.
	add := exec.Command(testenv.LookPath(t, "ldapadd"), "-x", "-H", d.URL, "-D", d.BindDN, "-w", d.Password)
	add.Stdin = strings.NewReader(`dn: sendmailMTAKey=sales@virtual.example,sendmailMTAMapName=virtuser,ou=mail,dc=example,dc=org
objectClass: sendmailMTA
objectClass: sendmailMTAMap
objectClass: sendmailMTAMapObject
sendmailMTAMapName: virtuser
sendmailMTAKey: sales@virtual.example
sendmailMTAMapValue: alice@example.test
sendmailMTACluster: gateways
`)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ldapadd: %v\n%s", err, out)
	}
	waitFor(t, func() bool { return probeRcpt(t, s, "sales@virtual.example") == 250 })
	out, err := s.postern("", "changes", "list")
	if err != nil || !strings.Contains(out, d.URL) || !strings.Contains(out, "(virtusertable)") {
		t.Errorf("changes list does not show the directory's maps: %v\n%s", err, out)
	}

	d.Stop()
	waitFor(t, func() bool { return strings.Contains(s.logs(), "map unavailable") })
	waitFor(t, func() bool { return strings.Contains(s.logs(), `alert kind="map unavailable"`) })
	answers(map[string]int{"info@virtual.example": 451, "nobody@virtual.example": 451, "x@elsewhere.test": 451, "alice@example.test": 451})
	out, err = s.postern("", "check")
	if err == nil || !strings.Contains(out, d.URL) {
		t.Errorf("postern check with the directory down: %v\n%s", err, out)
	}

	d.Start(t)
	waitFor(t, func() bool { return probeRcpt(t, s, "info@virtual.example") == 250 })
	answers(up)
	if out, err := s.postern("", "check"); err != nil {
		t.Errorf("postern check with the directory up: %v\n%s", err, out)
	}
}

// rcptAnswers checks what each RCPT TO gets, in one transaction.
func rcptAnswers(t *testing.T, s *server, want map[string]int) {
	t.Helper()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	defer c.nc.Close()
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<someone@else.test>", 250)
	for rcpt, code := range want {
		if got, text := c.cmd("RCPT TO:<" + rcpt + ">"); got != code {
			t.Errorf("RCPT TO:<%s> = %d %s, want %d", rcpt, got, text, code)
		}
	}
	c.cmd("QUIT")
}

// TestPostgresMaps: the same maps from a PostgreSQL table (docs/maps.md's
// layout), with the same fail-closed answers while the database is down.
func TestPostgresMaps(t *testing.T) {
	p := testpeer.StartPostgres(t)
	p.Exec(t, `CREATE TABLE postern_maps (map text NOT NULL, key text NOT NULL, value text NOT NULL DEFAULT '', PRIMARY KEY (map, key));
		ALTER TABLE postern_maps OWNER TO postern;
		INSERT INTO postern_maps VALUES
		('access', 'From:spammer@bad.example', 'REJECT'),
		('virtusertable', 'info@virtual.example', 'alice@example.test'),
		('virtusertable', '@virtual.example', 'error:nouser No such user here'),
		('local-host-names', 'virtual.example', '')`)
	dir := testenv.OpenTempDir(t)
	pwFile := filepath.Join(dir, "pg.secret")
	testenv.WriteFile(t, pwFile, p.Password+"\n", 0o600)
	s := newServer(t, serverConfig{Extra: fmt.Sprintf(`
[postgres_maps]
url = "postgres://%s@%s/postern?sslmode=disable"
password_file = %q
maps = ["access", "virtusertable", "local-host-names"]
refresh = "1s"
stale = "2s"
timeout = "2s"
`, p.User, p.Addr, pwFile)})
	s.addUser("alice@example.test", "pw")
	s.start()
	up := map[string]int{"info@virtual.example": 250, "nobody@virtual.example": 550, "x@elsewhere.test": 550}
	rcptAnswers(t, s, up)
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<spammer@bad.example>", 550)
	c.cmd("QUIT")

	p.Stop()
	waitFor(t, func() bool { return strings.Contains(s.logs(), "map unavailable") })
	rcptAnswers(t, s, map[string]int{"info@virtual.example": 451, "nobody@virtual.example": 451, "x@elsewhere.test": 451})
	p.Start(t)
	waitFor(t, func() bool { return probeRcpt(t, s, "info@virtual.example") == 250 })
	rcptAnswers(t, s, up)
}
