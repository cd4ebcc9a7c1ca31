package privs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"postern/internal/testenv"
)

func nobody(t *testing.T) Owner {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to act as another user")
	}
	o, err := ServiceOwner("nobody")
	if err != nil {
		testenv.Missing(t, "user nobody: %v", err)
	}
	return o
}

// A directory the service user may enter, with a file only root reads
// and one the service user owns.
func sharedDir(t *testing.T, o Owner) (dir, rootOnly, theirs string) {
	t.Helper()
	dir = t.TempDir()
	// t.TempDir's parent is 0700 too.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rootOnly = filepath.Join(dir, "root-only")
	theirs = filepath.Join(dir, "theirs")
	for _, p := range []string{rootOnly, theirs} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Give(theirs); err != nil {
		t.Fatal(err)
	}
	return dir, rootOnly, theirs
}

func TestDoOpensAsTheOwner(t *testing.T) {
	o := nobody(t)
	_, rootOnly, theirs := sharedDir(t, o)
	var errRoot, errTheirs error
	if err := o.Do(func() {
		_, errRoot = os.ReadFile(rootOnly)
		_, errTheirs = os.ReadFile(theirs)
	}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errRoot, fs.ErrPermission) {
		t.Errorf("as nobody, reading a root 0600 file: err = %v, want permission denied", errRoot)
	}
	if errTheirs != nil {
		t.Errorf("as nobody, reading nobody's own file: %v", errTheirs)
	}
	// The rest of the process is still root.
	if _, err := os.ReadFile(rootOnly); err != nil {
		t.Errorf("after Do, root cannot read its file: %v", err)
	}
}

func TestGiveAndOwnerOf(t *testing.T) {
	o := nobody(t)
	dir := t.TempDir()
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "k"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := o.Give(filepath.Join(dir, "a"), filepath.Join(dir, "missing")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "a"), sub, filepath.Join(sub, "k")} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != o.UID || int(st.Gid) != o.GID {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, o.UID, o.GID)
		}
	}
	got, err := OwnerOf(filepath.Join(dir, "a"))
	if err != nil || !got.IsSet() || got.UID != o.UID {
		t.Errorf("OwnerOf = %+v, %v; want uid %d", got, err, o.UID)
	}
	if got, _ := OwnerOf(dir); got.IsSet() {
		t.Errorf("OwnerOf(a root directory) = %+v, want the zero Owner", got)
	}
}

func TestZeroOwnerChangesNothing(t *testing.T) {
	var o Owner
	ran := false
	if err := o.Do(func() { ran = true }); err != nil || !ran {
		t.Fatalf("Do = %v, ran %v", err, ran)
	}
	if err := o.Give("/nonexistent/x"); err != nil {
		t.Fatal(err)
	}
	if o.Credential() != nil {
		t.Fatal("zero Owner has a credential")
	}
}

// No thread keeps the changed identity after Do: every thread of the
// process, the main one included, has its file-system uid back, so that
// a later Drop reaches them all.
func TestDoLeavesNoThreadChanged(t *testing.T) {
	o := nobody(t)
	for i := 0; i < 50; i++ {
		if err := o.Do(func() { os.Stat("/") }); err != nil {
			t.Fatal(err)
		}
	}
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("tasks: %v %v", tasks, err)
	}
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") && f[4] != f[2] {
				t.Errorf("%s: %s (file-system id differs from the effective one)", p, line)
			}
		}
	}
}
