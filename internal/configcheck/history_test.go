package configcheck

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/history"
	"postern/internal/summary"
	"postern/internal/testenv"
)

// A damaged history file and a damaged summary record are problems,
// with their paths.
func TestCheckHistory(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	testenv.WriteFile(t, cfgPath, "hostname = \"mx.example.test\"\ndata_dir = \"data\"\nmaps_dir = \".\"\n", 0o600)
	hist := filepath.Join(dir, "data", "history")
	os.MkdirAll(hist, 0o700)
	var out, errw bytes.Buffer
	if code := check(&out, &errw, cfgPath); code != 0 {
		t.Fatalf("empty history: code %d, %q", code, errw.String())
	}
	testenv.WriteFile(t, filepath.Join(hist, history.FileName), "postern-history 1\n torn", 0o600)
	testenv.WriteFile(t, filepath.Join(hist, summary.SentFile), "garbage\n", 0o600)
	if code := check(&out, &errw, cfgPath); code != 1 || !strings.Contains(errw.String(), filepath.Join(hist, history.FileName)+" is damaged") ||
		!strings.Contains(errw.String(), filepath.Join(hist, summary.SentFile)) {
		t.Errorf("damaged: code %d, %q", code, errw.String())
	}
}
