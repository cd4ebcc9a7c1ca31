package sandbox

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/testenv"
)

// The confined side runs in a child process: Landlock cannot be undone,
// and the test binary must stay free for the other tests.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SANDBOX_TEST_CHILD"); dir != "" {
		os.Exit(child(dir))
	}
	os.Exit(m.Run())
}

// child confines itself to dir/ro (read) and dir/rw (write), then tries
// what the server does and what it must not.
func child(dir string) int {
	st, err := Restrict(Paths{
		ReadDirs:   []string{filepath.Join(dir, "ro")},
		WriteDirs:  []string{filepath.Join(dir, "rw"), filepath.Join(dir, "gone")},
		WriteFiles: []string{os.DevNull},
	})
	if err != nil || !st.Active {
		println("restrict:", err, st.String())
		return 3
	}
	if len(st.Missing) != 1 || st.Missing[0] != filepath.Join(dir, "gone") {
		println("missing:", strings.Join(st.Missing, ","))
		return 4
	}
	checks := []struct {
		what    string
		err     error
		allowed bool
	}{
		{"read ro/map", read(filepath.Join(dir, "ro", "map")), true},
		{"write rw/tmp/m", os.WriteFile(filepath.Join(dir, "rw", "tmp", "m"), []byte("x"), 0o600), true},
		{"rename rw/tmp/m to rw/new/m", os.Rename(filepath.Join(dir, "rw", "tmp", "m"), filepath.Join(dir, "rw", "new", "m")), true},
		{"write /dev/null", os.WriteFile(os.DevNull, []byte("x"), 0), true},
		{"read outside/secret", read(filepath.Join(dir, "outside", "secret")), false},
		{"write ro/map", os.WriteFile(filepath.Join(dir, "ro", "map"), []byte("x"), 0o644), false},
		{"create ro/new", os.WriteFile(filepath.Join(dir, "ro", "new"), []byte("x"), 0o644), false},
		{"read /etc/hostname", read("/etc/hostname"), false},
	}
	status := 0
	for _, c := range checks {
		if c.allowed && c.err != nil {
			println(c.what, "refused:", c.err.Error())
			status = 1
		}
		if !c.allowed && !errors.Is(c.err, fs.ErrPermission) {
			println(c.what, "not refused:", errString(c.err))
			status = 1
		}
	}
	return status
}

func read(p string) error { _, err := os.ReadFile(p); return err }

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

func TestRestrict(t *testing.T) {
	if abi, why := ABI(); abi == 0 {
		testenv.Missing(t, "Landlock in the kernel: %s", why)
	}
	dir := t.TempDir()
	for _, d := range []string{"ro", "rw/tmp", "rw/new", "outside"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "ro", "map"), []byte("Connect:10 REJECT\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "outside", "secret"), []byte("readable by all, but not in the sandbox\n"), 0o644)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SANDBOX_TEST_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("confined child: %v\n%s", err, out)
	}
	// Unconfined, the same file reads: the refusal was the sandbox's.
	if err := read(filepath.Join(dir, "outside", "secret")); err != nil {
		t.Fatal(err)
	}
}

func TestStatusString(t *testing.T) {
	if s := (Status{Reason: "the kernel has no Landlock"}).String(); s != "not active: the kernel has no Landlock" {
		t.Errorf("inactive: %q", s)
	}
	s := Status{Active: true, ABI: 7, Paths: Paths{ReadDirs: []string{"/etc"}, WriteDirs: []string{"/var/lib/postern"}, WriteFiles: []string{"/dev/null"}}}.String()
	if s != "Landlock ABI 7 active: read /etc; write /var/lib/postern, /dev/null" {
		t.Errorf("active: %q", s)
	}
}
