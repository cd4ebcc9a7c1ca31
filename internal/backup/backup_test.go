package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/config"
)

// A backup restored into an empty place gives back every file; a second
// restore refuses to overwrite them unless forced.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfgPath, []byte("hostname = \"mx.example.test\"\ndata_dir = \"data\"\nmaps_dir = \"maps\"\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "maps"), 0o755)
	os.WriteFile(filepath.Join(dir, "maps", "access"), []byte("Connect:192.0.2.1 REJECT\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "data", "dkim", "example.test"), 0o700)
	os.WriteFile(filepath.Join(dir, "data", "dkim", "example.test", "s1.key"), []byte("key"), 0o600)
	os.WriteFile(filepath.Join(dir, "data", "users"), []byte(""), 0o600)
	cfg, _, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "b.tar.gz")
	files, err := Write(archive, cfg, time.Now())
	if err != nil || files != 4 {
		t.Fatalf("write: %d files, %v", files, err)
	}
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("archive %v %v", fi, err)
	}

	a, err := Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	if got := ConfigDest(a, ""); got != cfgPath {
		t.Errorf("config goes to %s", got)
	}
	to := filepath.Join(t.TempDir(), "etc", "postern.toml")
	restored, err := Restore(a, to, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{to, filepath.Join(filepath.Dir(to), "maps", "access"), filepath.Join(filepath.Dir(to), "data", "dkim", "example.test", "s1.key")} {
		if _, err := os.Stat(want); err != nil {
			t.Errorf("not restored: %v (restored %q)", err, restored)
		}
	}
	if _, err := Restore(a, to, false); err == nil {
		t.Error("restored over existing files")
	}
	if _, err := Restore(a, to, true); err != nil {
		t.Errorf("forced: %v", err)
	}
}

func TestDestination(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = "/var/lib/postern"
	dest := destination(cfg, "/etc/postern/postern.toml")
	for name, want := range map[string]string{
		"config/postern.toml": "/etc/postern/postern.toml", "data/users": "/var/lib/postern/users", "tls/cert": "",
	} {
		if got, err := dest(name); err != nil || got != want {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
	for _, bad := range []string{"maps/access", "other/x", "tls/other"} {
		if _, err := dest(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestSources(t *testing.T) {
	cfg := config.Default()
	var names []string
	for _, s := range Sources(cfg) {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "data/users data/dkim data/tls data/srs" {
		t.Errorf("embedded default: %s", got)
	}
}
