package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	good := "hostname = \"mx.example.test\"\nuser = \"nobody\"\ndata_dir = \"data\"\nlocal_domains = [\"example.test\"]\n" +
		"trusted_networks = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n[[listener]]\naddress = \"127.0.0.1:2525\"\nmode = \"mta\"\n"
	writeFile(t, cfgPath, good, 0o600)

	run := func() (int, string, string) {
		var out, errw bytes.Buffer
		code := check(&out, &errw, cfgPath)
		return code, out.String(), errw.String()
	}
	code, out, errs := run()
	if code != 0 || !strings.Contains(out, "config OK") {
		t.Fatalf("good config: code %d, out %q, err %q", code, out, errs)
	}
	if !strings.Contains(errs, cfgPath+":5: warning: trusted_networks: 10.0.0.0/8") {
		t.Errorf("warning missing: %q", errs)
	}

	// Every problem of the file at once, with lines.
	writeFile(t, cfgPath, good+"bogus = 1\n[limits]\nmax_errors = \"x\"\n", 0o600)
	code, out, errs = run()
	if code != 1 || out != "" {
		t.Errorf("bad config: code %d, out %q", code, out)
	}
	for _, want := range []string{cfgPath + ":9: unknown key listener[0].bogus", cfgPath + ":11: limits.max_errors must be an integer", "2 problem(s)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in %q", want, errs)
		}
	}

	// Permissions, maps and the users file are checked too.
	writeFile(t, cfgPath, good, 0o664)
	writeFile(t, filepath.Join(dir, "access"), "Connect:192.0.2.1 MAYBE\n", 0o600)
	os.Mkdir(filepath.Join(dir, "data"), 0o700)
	writeFile(t, filepath.Join(dir, "data", "users"), "alice@example.test:plain\n", 0o644)
	code, _, errs = run()
	if code != 1 {
		t.Errorf("code %d, want 1", code)
	}
	for _, want := range []string{
		cfgPath + " is writable by group or others",
		filepath.Join(dir, "access") + ":1:",
		filepath.Join(dir, "data", "users") + ": readable by group or others",
		filepath.Join(dir, "data", "users") + ":1: alice@example.test: unknown hash scheme",
		"4 problem(s)",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
}

func TestCheckTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	writeFile(t, cfgPath, "hostname = \"mx.example.test\"\nuser = \"nobody\"\ndata_dir = \"data\"\n[tls]\ncert = \"missing.pem\"\nkey = \"key.pem\"\n", 0o600)
	var out, errw bytes.Buffer
	if code := check(&out, &errw, cfgPath); code != 1 || !strings.Contains(errw.String(), filepath.Join(dir, "missing.pem")) {
		t.Errorf("missing cert: code %d, %q", code, errw.String())
	}
}

func TestCheckEmbeddedDefault(t *testing.T) {
	t.Chdir(t.TempDir())
	var out, errw bytes.Buffer
	if code := check(&out, &errw, ""); code != 0 || !strings.Contains(out.String(), "config OK: (embedded default)") {
		t.Errorf("embedded default: code %d, out %q, err %q", code, out.String(), errw.String())
	}
}
