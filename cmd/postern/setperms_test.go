package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"postern/internal/testenv"
)

// What root's commands left behind is repaired, check then passes, and a
// second run changes nothing.
func TestSetPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to change owners")
	}
	dir := testenv.OpenTempDir(t)
	cfgPath := filepath.Join(dir, "postern.toml")
	testenv.WriteFile(t, cfgPath, "hostname = \"mx.example.test\"\nuser = \"nobody\"\ndata_dir = \"data\"\nmaps_dir = \"maps\"\n", 0o600)
	mapsDir := filepath.Join(dir, "maps")
	os.Mkdir(mapsDir, 0o700)
	access := filepath.Join(mapsDir, "access")
	testenv.WriteFile(t, access, "Connect:127.0.0.5 REJECT\n", 0o600)
	data := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(data, "dkim", "example.test"), 0o755)
	testenv.WriteFile(t, filepath.Join(data, "users"), "", 0o600)
	testenv.WriteFile(t, filepath.Join(data, "dkim", "example.test", "s1.key"), "x", 0o666)

	var out, errw bytes.Buffer
	if code := check(&out, &errw, cfgPath); code != 1 {
		t.Fatalf("before: check code %d, want 1", code)
	}
	out.Reset()
	errw.Reset()
	if code := setPermsCmd([]string{"-config", cfgPath}, &out, &errw); code != 0 {
		t.Fatalf("set-permissions: code %d, err %q", code, errw.String())
	}
	for _, want := range []string{
		access + ": group 0 -> 65534 (nobody's group)",
		access + ": mode 0600 -> 0640",
		mapsDir + ": mode 0700 -> 0750",
		data + ": owner 0:0 -> nobody",
		filepath.Join(data, "dkim", "example.test", "s1.key") + ": mode 0666 -> 0644",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	fi, _ := os.Stat(access)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 {
		t.Errorf("the access map changed owner to %d; it stays root's", st.Uid)
	}
	out.Reset()
	errw.Reset()
	if code := check(&out, &errw, cfgPath); code != 0 {
		t.Fatalf("after: check code %d, err %q", code, errw.String())
	}
	out.Reset()
	if code := setPermsCmd([]string{"-config", cfgPath}, &out, &errw); code != 0 || !strings.Contains(out.String(), "changed 0 paths") {
		t.Errorf("second run: code %d, out %q", code, out.String())
	}
}
