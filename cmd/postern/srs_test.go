package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSrsCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfg, []byte("hostname = \"mx.example.test\"\ndata_dir = \"data\"\nuser = \"\"\n[srs]\ndomain = \"fwd.example.test\"\n"), 0o600)
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		rc := srsCmd(append(args, "-config", cfg), &out, &errb)
		return rc, out.String(), errb.String()
	}
	if rc, out, _ := run("status"); rc != 0 || !strings.Contains(out, "none yet") {
		t.Errorf("status before any key: %d\n%s", rc, out)
	}
	if rc, _, errs := run("forward", "alice@origin.test"); rc != 1 || !strings.Contains(errs, "secrets") {
		t.Errorf("forward without keys: %d %s", rc, errs)
	}
	for i := 1; i <= 2; i++ {
		if rc, out, errs := run("rotate"); rc != 0 || !strings.Contains(out, "the new one signs") {
			t.Fatalf("rotate %d: %d %s %s", i, rc, out, errs)
		}
	}
	keys := filepath.Join(dir, "data", "srs", "secrets")
	if fi, err := os.Stat(keys); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys file: %v %v", fi, err)
	}
	if rc, out, _ := run("status"); rc != 0 || !strings.Contains(out, ": 2 (the first signs)") {
		t.Errorf("status: %d\n%s", rc, out)
	}
	rc, addr, _ := run("forward", "alice@origin.test")
	addr = strings.TrimSpace(addr)
	if rc != 0 || !strings.HasPrefix(addr, "SRS0=") || !strings.HasSuffix(addr, "=origin.test=alice@fwd.example.test") {
		t.Fatalf("forward: %d %q", rc, addr)
	}
	if rc, out, _ := run("reverse", addr); rc != 0 || strings.TrimSpace(out) != "alice@origin.test" {
		t.Errorf("reverse: %d %q", rc, out)
	}
	if rc, _, errs := run("reverse", "SRS0=AAAA"+addr[9:]); rc != 1 || !strings.Contains(errs, "hash") {
		t.Errorf("reverse of a forged address: %d %s", rc, errs)
	}
	for _, bad := range [][]string{{}, {"frob"}, {"forward"}, {"rotate", "extra"}} {
		var out, errb bytes.Buffer
		if rc := srsCmd(bad, &out, &errb); rc != 2 {
			t.Errorf("%q: exit %d, want 2", bad, rc)
		}
	}
}
