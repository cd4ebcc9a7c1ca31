package testenv

import (
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// WriteFile writes text to path with exactly mode (whatever the umask,
// and on a file that existed before).
func WriteFile(t testing.TB, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// OpenTempDir is t.TempDir opened to the service user (it and its parent
// 0755), as /etc/postern is on a real system.
func OpenTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ServiceUser is the user postern drops to in tests: "nobody" when the
// tests run as root (postern refuses to keep root), else "".
func ServiceUser() string {
	if os.Geteuid() == 0 {
		return "nobody"
	}
	return ""
}

// GiveToServiceUser hands paths, and everything below them, to
// ServiceUser, as the CLI does when run as root, so that postern can
// write them after dropping root. Not root, it does nothing.
func GiveToServiceUser(t testing.TB, paths ...string) {
	t.Helper()
	name := ServiceUser()
	if name == "" {
		return
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("user %s: uid %q gid %q", name, u.Uid, u.Gid)
	}
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, uid, gid)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
