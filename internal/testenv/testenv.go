// Package testenv finds what tests need outside the repository (the shared
// conformance suites, peer programs such as postfix or opendkim) and
// decides what happens when something is missing: under CI=true the test
// fails, elsewhere it is skipped with the reason.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CI reports whether the tests run in CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it under CI, because of what is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf("missing under CI: "+format, args...)
	}
	t.Skipf("skipped, missing: "+format, args...)
}

// RepoRoot returns the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// SharedTestdata returns the path of ../shared/testdata/<elem...> beside
// the repository (the public conformance suites), skipping or failing the
// test when it is not there.
func SharedTestdata(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{RepoRoot(t), "..", "shared", "testdata"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "shared test data %s", p)
	}
	return p
}

// LookPath returns the path of a peer program (searching PATH and the
// sbin directories), skipping or failing the test when it is absent.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/lib/postfix/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	Missing(t, "program %s (see .ci/run for the Debian package)", name)
	return ""
}
