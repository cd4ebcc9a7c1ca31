package testpeer

import (
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/testenv"
)

// TestPostgres checks the private cluster: the postern role can make a
// table and read it back, and the server comes back after Stop.
func TestPostgres(t *testing.T) {
	p := StartPostgres(t)
	p.Exec(t, "CREATE TABLE t (k text PRIMARY KEY, v text NOT NULL); ALTER TABLE t OWNER TO postern; INSERT INTO t VALUES ('a', 'b')")
	if got := p.Exec(t, "SELECT v FROM t WHERE k = 'a'"); got != "b" {
		t.Fatalf("select gave %q", got)
	}
	p.Stop()
	p.Start(t)
	if got := p.Exec(t, "SELECT count(*) FROM t"); got != "1" {
		t.Fatalf("after a restart, count gave %q", got)
	}
}

// TestPostgresIn: the server in a namespace takes the postern role's
// login from another namespace over TLS, its certificate checked
// against CA (sslmode=verify-full), and refuses it without TLS.
func TestPostgresIn(t *testing.T) {
	nss := StartNetns(t, 2)
	p := StartPostgresIn(t, nss[0])
	ca := filepath.Join(t.TempDir(), "pg-ca.pem")
	testenv.WriteFile(t, ca, p.CA, 0o644)
	psql := func(url string) (string, error) {
		out, err := nss[1].Command(testenv.LookPath(t, "psql"), "-X", "-A", "-t", "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", url).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := psql(p.URL + "&sslrootcert=" + ca); err != nil || out != "t" {
		t.Fatalf("login over TLS from %s: %v\n%s", nss[1].Addr, err, out)
	}
	if out, err := psql(strings.Replace(p.URL, "sslmode=verify-full", "sslmode=disable", 1)); err == nil {
		t.Fatalf("a login without TLS was let in:\n%s", out)
	}
}
