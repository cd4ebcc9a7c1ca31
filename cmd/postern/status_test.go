package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatusWithoutServer(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfgPath, []byte(`hostname = "mx.example.test"
data_dir = "data"

[[listener]]
address = "127.0.0.1:2525"
mode = "mta"

[admin]
address = ""
`), 0o600)
	var out, errw bytes.Buffer
	if code := statusCmd([]string{"-config", cfgPath}, &out, &errw); code != 0 {
		t.Fatalf("exit %d: %s", code, errw.String())
	}
	for _, w := range []string{"NOT RUNNING", "admin listener is off", "127.0.0.1:2525", "Queue: 0 messages", "limits.max_recipients"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("status lacks %q:\n%s", w, out.String())
		}
	}
}

func TestBlockCommandErrors(t *testing.T) {
	var out, errw bytes.Buffer
	// The embedded default has no maps_dir.
	if code := blockCmd([]string{"192.0.2.1"}, &out, &errw); code != 1 || !strings.Contains(errw.String(), "maps_dir") {
		t.Errorf("exit %d: %s", code, errw.String())
	}
	if code := blockCmd(nil, &out, &errw); code != 2 {
		t.Errorf("no argument: exit %d", code)
	}
}
