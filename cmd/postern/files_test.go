package main

import (
	"os"
	"path/filepath"
	"testing"

	"postern/internal/privs"
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

// openTempDir is t.TempDir opened to the service user (it and its
// parent 0755), as /etc/postern is on a real system.
func openTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// giveToNobody hands path to the user the test configurations run as,
// as the CLI does when run as root.
func giveToNobody(t *testing.T, path string) {
	t.Helper()
	o, err := privs.ServiceOwner("nobody")
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Give(path); err != nil {
		t.Fatal(err)
	}
}
