package pgmaps

import (
	"context"
	"strings"
	"testing"
	"time"

	"postern/internal/testpeer"
)

// layout is the table of docs/maps.md.
const layout = `CREATE TABLE postern_maps (
    map   text NOT NULL,
    key   text NOT NULL,
    value text NOT NULL DEFAULT '',
    PRIMARY KEY (map, key)
);
ALTER TABLE postern_maps OWNER TO postern;`

// TestFetch reads maps from a real PostgreSQL table as their files'
// text; a bad row keeps the whole map out, and a server that is down or
// a wrong password is an error, never an empty map.
func TestFetch(t *testing.T) {
	p := testpeer.StartPostgres(t)
	p.Exec(t, layout)
	p.Exec(t, `INSERT INTO postern_maps VALUES
		('access', 'From:spammer@bad.example', 'REJECT'),
		('access', 'Connect:192.0.2.1', 'OK'),
		('aliases', 'staff', 'alice, bob'),
		('local-host-names', 'virtual.example', ''),
		('local-host-names', 'mx.virtual.example', ''),
		('virtusertable', 'info@virtual.example', 'staff@example.test')`)
	src, err := New(Options{URL: "postgres://" + p.User + "@" + p.Addr + "/postern?sslmode=disable", Password: p.Password, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"access":           "Connect:192.0.2.1\tOK\nFrom:spammer@bad.example\tREJECT\n",
		"aliases":          "staff: alice, bob\n",
		"local-host-names": "mx.virtual.example\nvirtual.example\n",
		"virtusertable":    "info@virtual.example\tstaff@example.test\n",
		"mailertable":      "",
	}
	for file, w := range want {
		got, err := src.Fetch(context.Background(), file)
		if err != nil || string(got) != w {
			t.Errorf("Fetch(%s) = %q, %v; want %q", file, got, err, w)
		}
	}
	if w := src.Where("access"); strings.Contains(w, p.Password) {
		t.Errorf("Where shows the password: %s", w)
	}
	p.Exec(t, `INSERT INTO postern_maps VALUES ('aliases', 'run', '"|/bin/sh -c id"')`)
	if _, err := src.Fetch(context.Background(), "aliases"); err == nil || !strings.Contains(err.Error(), "programs, files and :include:") {
		t.Errorf("program target: err = %v", err)
	}
	bad, _ := New(Options{URL: p.URL, Password: "wrong", Timeout: 5 * time.Second})
	if _, err := bad.Fetch(context.Background(), "access"); err == nil {
		t.Error("a wrong password read the table")
	}
	p.Stop()
	if _, err := src.Fetch(context.Background(), "access"); err == nil {
		t.Error("Fetch from a stopped server succeeded")
	}
	if _, err := New(Options{URL: p.URL, Table: "x; drop table y"}); err == nil {
		t.Error("a table name with SQL in it was taken")
	}
}
