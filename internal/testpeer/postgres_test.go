package testpeer

import "testing"

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
