package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/testenv"
	"postern/internal/users"
)

func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	testenv.WriteFile(t, cfgPath, "hostname = \"mx.example.test\"\nuser = \"nobody\"\ndata_dir = \"data\"\nlocal_domains = [\"example.test\"]\n", 0o600)
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errw bytes.Buffer
		code := userCmd(args, strings.NewReader(stdin), &out, &errw)
		return code, out.String(), errw.String()
	}
	if code, _, errs := run("s3cret\n", "add", "Alice@Example.TEST", "-config", cfgPath, "--password-stdin"); code != 0 {
		t.Fatalf("add: %d %s", code, errs)
	}
	if code, _, errs := run("x\n", "add", "-config", cfgPath, "--password-stdin", "alice@example.test"); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("duplicate add: %d %q", code, errs)
	}
	if code, out, _ := run("pw", "-config", cfgPath, "add", "bob@other.example", "--password-stdin"); code != 0 || !strings.Contains(out, "not a local domain") {
		t.Errorf("add non-local: %d %q", code, out)
	}
	if code, out, _ := run("", "list", "-config", cfgPath); code != 0 || out != "alice@example.test\nbob@other.example\n" {
		t.Errorf("list: %d %q", code, out)
	}
	usersFile := filepath.Join(dir, "data", "users")
	fi, err := os.Stat(usersFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("users file: %v %v", fi, err)
	}
	if os.Geteuid() == 0 {
		// Run as root for a server that runs as nobody: nobody owns it.
		if st, ok := statOwner(fi); !ok || st != "65534" {
			t.Errorf("users file owner = %q, want nobody's uid", st)
		}
		if li, err := os.Stat(usersFile + ".lock"); err != nil {
			t.Error(err)
		} else if st, _ := statOwner(li); st != "65534" {
			t.Errorf("lock file owner = %q, want nobody's uid", st)
		}
	}
	s, err := users.Open(usersFile)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Verify("alice@example.test", "s3cret") || !s.Verify("bob@other.example", "pw") {
		t.Error("passwords from stdin not stored")
	}
	if code, _, errs := run("n3w\r\nignored\n", "passwd", "alice@example.test", "-config", cfgPath, "-password-stdin"); code != 0 {
		t.Fatalf("passwd: %s", errs)
	}
	s, _ = users.Open(usersFile)
	if !s.Verify("alice@example.test", "n3w") {
		t.Error("passwd did not take the first line")
	}
	if code, _, errs := run("x\n", "passwd", "carol@example.test", "-config", cfgPath, "--password-stdin"); code != 1 || !strings.Contains(errs, "no such user") {
		t.Errorf("passwd unknown: %d %q", code, errs)
	}
	if code, _, errs := run("", "add", "dave@example.test", "-config", cfgPath); code != 1 || !strings.Contains(errs, "not a terminal") {
		t.Errorf("add without a terminal: %d %q", code, errs)
	}
	if code, _, errs := run("\n", "add", "dave@example.test", "-config", cfgPath, "--password-stdin"); code != 1 || !strings.Contains(errs, "empty password") {
		t.Errorf("add with an empty password: %d %q", code, errs)
	}
	if code, _, _ := run("", "del", "bob@other.example", "-config", cfgPath); code != 0 {
		t.Error("del failed")
	}
	if code, out, _ := run("", "list", "-config", cfgPath); code != 0 || out != "alice@example.test\n" {
		t.Errorf("list after del: %q", out)
	}
	for _, args := range [][]string{{}, {"frob", "a@b.example"}, {"add"}, {"list", "extra"}, {"del", "a@b.example", "c@d.example"}} {
		if code, _, _ := run("", args...); code != 2 {
			t.Errorf("user %v: code %d, want 2 (usage)", args, code)
		}
	}
	if code, _, errs := run("", "del", "not-an-address", "-config", cfgPath); code != 1 || !strings.Contains(errs, "not an address") {
		t.Errorf("bad address: %d %q", code, errs)
	}
}
