package configcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/config"
)

func TestCheckLocal(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	cfgFile := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfgFile, nil, 0o600)
	data := filepath.Join(dir, "data")
	cfg := &config.Config{File: cfgFile, DataDir: data, Local: config.Local{Socket: filepath.Join(data, "submit.sock")}}
	r := checkLocal(cfg)
	if len(r.Warnings) != 2 || !strings.Contains(r.Warnings[0], "inside data_dir") || !strings.Contains(r.Warnings[1], "cannot read this file") {
		t.Errorf("socket in data_dir, file 0600: %q", r.Warnings)
	}

	open := filepath.Join(dir, "run")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	os.Chmod(cfgFile, 0o644)
	cfg.Local.Socket = filepath.Join(open, "s.sock")
	r = checkLocal(cfg)
	if len(r.Warnings) != 0 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "writable by group or others") {
		t.Errorf("world-writable socket directory: %+v", r)
	}
	os.Chmod(open, 0o755)
	if r = checkLocal(cfg); len(r.Warnings)+len(r.Problems) != 0 {
		t.Errorf("good place: %+v", r)
	}
	cfg.Local.Socket = ""
	if r = checkLocal(cfg); len(r.Warnings)+len(r.Problems) != 0 {
		t.Errorf("off: %+v", r)
	}
}
