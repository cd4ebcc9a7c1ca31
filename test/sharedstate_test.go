package test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"postern/internal/testpeer"
)

// Two postern processes sharing one PostgreSQL database enforce one
// combined limit, as with Redis. The password is in a file only root may
// read: the server reads it before it drops to nobody.
func TestRateLimitPostgresFleet(t *testing.T) {
	pg := testpeer.StartPostgres(t)
	pwFile := filepath.Join(t.TempDir(), "db.password")
	if err := os.WriteFile(pwFile, []byte(pg.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("postgres://%s@%s/postern?sslmode=disable", pg.User, pg.Addr)
	rlFleet(t, fmt.Sprintf("backend = \"postgres\"\npostgres_url = %q\npostgres_password_file = %q\n", url, pwFile), pg.Stop)
	pg.Start(t)
	if out := pg.Exec(t, `SELECT count(*) FROM postern_rate_windows`); out == "0" {
		t.Fatal("no window row in the database")
	}
}
