package testpeer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every postern under test gets an admin port of its own unless the
// test turns the listener off or writes its own [admin] table.
func TestPosternConfigAdmin(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "postern.toml")
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a := PosternConfig{DataDir: dir}
	a.Write(t, path)
	b := PosternConfig{DataDir: dir}
	b.Write(t, path)
	if a.Admin == "" || a.Admin == b.Admin || !strings.HasPrefix(a.Admin, "127.0.0.1:") || a.Admin == "127.0.0.1:9025" {
		t.Fatalf("admin addresses %q and %q: want two free loopback ports", a.Admin, b.Admin)
	}
	if !strings.Contains(read(), "\n[admin]\naddress = \""+b.Admin+"\"\n") {
		t.Fatalf("no [admin] address %s in:\n%s", b.Admin, read())
	}
	off := PosternConfig{DataDir: dir, Admin: AdminOff}
	off.Write(t, path)
	if !strings.Contains(read(), "\n[admin]\naddress = \"\"\n") || off.Admin != AdminOff {
		t.Fatalf("AdminOff:\n%s", read())
	}
	own := PosternConfig{DataDir: dir, Extra: "\n[admin]\naddress = \"127.0.0.1:1\"\n"}
	own.Write(t, path)
	if own.Admin != "" || strings.Count(read(), "[admin]") != 1 {
		t.Fatalf("Extra's own [admin] (Admin %q):\n%s", own.Admin, read())
	}
}
