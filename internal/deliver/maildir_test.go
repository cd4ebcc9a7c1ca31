package deliver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b") + "/"
	if err := Maildir(dir, "1.X.host", strings.NewReader("Subject: hi\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v", sub, fi, err)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, "new", "1.X.host"))
	if err != nil || string(got) != "Subject: hi\n\nbody\n" {
		t.Fatalf("new/1.X.host = %q, %v", got, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "new", "1.X.host")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ not empty: %v", ents)
	}

	// Again: the copy in new/ is found, nothing is written.
	if err := Maildir(dir, "1.X.host", strings.NewReader("other")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "new", "1.X.host")); string(got) != "Subject: hi\n\nbody\n" {
		t.Fatalf("redelivery overwrote: %q", got)
	}
	// A reader moved it to cur/ with flags (and a size field, as Dovecot does).
	for _, curName := range []string{"1.X.host:2,S", "1.X.host,S=20:2,RS", "1.X.host:2,"} {
		os.RemoveAll(filepath.Join(dir, "cur"))
		os.Mkdir(filepath.Join(dir, "cur"), 0o700)
		os.Remove(filepath.Join(dir, "new", "1.X.host"))
		os.WriteFile(filepath.Join(dir, "cur", curName), []byte("x"), 0o600)
		if err := Maildir(dir, "1.X.host", strings.NewReader("other")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "new", "1.X.host")); err == nil {
			t.Errorf("with cur/%s: delivered a second copy", curName)
		}
	}
	// A similar name in cur/ is a different message.
	os.RemoveAll(filepath.Join(dir, "cur"))
	os.Mkdir(filepath.Join(dir, "cur"), 0o700)
	os.WriteFile(filepath.Join(dir, "cur", "1.X.host2:2,S"), []byte("x"), 0o600)
	if err := Maildir(dir, "1.X.host", strings.NewReader("third")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "new", "1.X.host")); string(got) != "third\n" {
		t.Errorf("new/1.X.host = %q, want the third copy", got)
	}
	// A stale tmp file from an interrupted delivery is replaced.
	os.WriteFile(filepath.Join(dir, "tmp", "2.Y.host"), []byte("partial"), 0o600)
	if err := Maildir(dir, "2.Y.host", strings.NewReader("whole\r\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "new", "2.Y.host")); string(got) != "whole\n" {
		t.Errorf("new/2.Y.host = %q", got)
	}
}

func TestMaildirBadNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"", ".", "..", "../x", "a/b", "a:2,S", ".hidden", "a\x00b"} {
		if err := Maildir(dir, name, strings.NewReader("x")); err == nil {
			t.Errorf("Maildir name %q accepted", name)
		}
	}
}
