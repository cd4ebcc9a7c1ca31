package srs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/privs"
)

func TestKeyringCreateAndRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "srs", "secrets")
	if _, err := OpenKeyring(path, false, nil); err == nil {
		t.Fatal("a missing file opened without create")
	}
	k, err := OpenKeyring(path, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := k.Secrets()
	if len(first) != 1 || len(first[0]) != 32 {
		t.Fatalf("first keys %q", first)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %04o", p, fi.Mode().Perm(), err, want)
		}
	}
	// Opening again keeps the key.
	if k2, err := OpenKeyring(path, true, nil); err != nil || string(k2.Secrets()[0]) != string(first[0]) {
		t.Fatalf("reopened: %v", err)
	}
	n, err := Rotate(path, privs.Owner{})
	if err != nil || n != 2 {
		t.Fatalf("Rotate: %d, %v", n, err)
	}
	// The running keyring sees the rotation once it looks again.
	k.checked = time.Now().Add(-time.Minute)
	keys := k.Secrets()
	if len(keys) != 2 || string(keys[1]) != string(first[0]) || string(keys[0]) == string(first[0]) {
		t.Fatalf("after rotation: %q (first %q)", keys, first)
	}
	// A broken file later leaves the keys in use.
	os.WriteFile(path, []byte("\n\n"), 0o600)
	os.Chtimes(path, time.Now(), time.Now().Add(time.Hour))
	k.checked = time.Now().Add(-time.Minute)
	if got := k.Secrets(); len(got) != 2 {
		t.Errorf("keys after a broken file: %q", got)
	}
}

func TestReadKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets")
	// postsrsd's file: one secret a line, CRLF or LF, blank lines skipped.
	os.WriteFile(path, []byte("first secret\r\n\nsecond\n"), 0o600)
	keys, err := ReadKeys(path)
	if err != nil || len(keys) != 2 || string(keys[0]) != "first secret" || string(keys[1]) != "second" {
		t.Errorf("ReadKeys: %q, %v", keys, err)
	}
	os.Chmod(path, 0o644)
	if _, err := ReadKeys(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a file others may read: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600)
	if _, err := ReadKeys(filepath.Join(dir, "empty")); err == nil {
		t.Error("an empty file was taken")
	}
}
