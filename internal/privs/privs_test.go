package privs

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"postern/internal/testenv"
)

func TestCheckPerms(t *testing.T) {
	type entry struct {
		path string
		mode os.FileMode
		dir  bool
	}
	tests := []struct {
		name  string
		setup []entry
		check []string // paths relative to the temp dir
		bad   []string // paths named in the error; none means no error
	}{
		{"private file", []entry{{"etc", 0o755, true}, {"etc/postern.toml", 0o600, false}}, []string{"etc/postern.toml"}, nil},
		{"readable file", []entry{{"etc", 0o755, true}, {"etc/postern.toml", 0o644, false}}, []string{"etc/postern.toml"}, nil},
		{"group writable file", []entry{{"etc", 0o755, true}, {"etc/postern.toml", 0o664, false}}, []string{"etc/postern.toml"}, []string{"etc/postern.toml is writable"}},
		{"world writable file", []entry{{"etc", 0o755, true}, {"etc/postern.toml", 0o602, false}}, []string{"etc/postern.toml"}, []string{"etc/postern.toml is writable"}},
		{"group writable parent", []entry{{"etc", 0o775, true}, {"etc/postern.toml", 0o600, false}}, []string{"etc/postern.toml"}, []string{"etc is writable", "so etc/postern.toml could be replaced"}},
		{"bad grandparent", []entry{{"a", 0o777, true}, {"a/b", 0o755, true}, {"a/b/f", 0o600, false}}, []string{"a/b/f"}, []string{"a is writable by group or others (mode 0777), so a/b/f could be replaced"}},
		{"sticky parent", []entry{{"tmp", 0o777 | os.ModeSticky, true}, {"tmp/f", 0o600, false}}, []string{"tmp/f"}, nil},
		{"sticky dir itself", []entry{{"tmp", 0o777 | os.ModeSticky, true}}, []string{"tmp"}, []string{"tmp is writable"}},
		{"writable data dir", []entry{{"data", 0o770, true}}, []string{"data"}, []string{"data is writable"}},
		{"missing under good dir", []entry{{"var", 0o755, true}}, []string{"var/lib/postern"}, nil},
		{"missing under bad dir", []entry{{"var", 0o757, true}}, []string{"var/lib/postern"}, []string{"var is writable"}},
		{"every problem at once",
			[]entry{{"etc", 0o755, true}, {"etc/a", 0o666, false}, {"data", 0o777, true}},
			[]string{"etc/a", "data"}, []string{"etc/a is writable", "data is writable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, e := range tt.setup {
				p := filepath.Join(root, e.path)
				var err error
				if e.dir {
					err = os.Mkdir(p, 0o700)
				} else {
					err = os.WriteFile(p, []byte("x"), 0o600)
				}
				if err == nil {
					err = os.Chmod(p, e.mode)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			var paths []string
			for _, c := range tt.check {
				paths = append(paths, filepath.Join(root, c))
			}
			err := CheckPerms(paths...)
			if len(tt.bad) == 0 {
				if err != nil {
					t.Fatalf("CheckPerms: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckPerms accepted it")
			}
			msg := strings.ReplaceAll(err.Error(), root+"/", "")
			for _, b := range tt.bad {
				if !strings.Contains(msg, b) {
					t.Errorf("error %q does not name %q", msg, b)
				}
			}
		})
	}
}

func TestCheckPermsSymlink(t *testing.T) {
	root := t.TempDir()
	bad := filepath.Join(root, "shared")
	if err := os.Mkdir(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(bad, 0o777)
	target := filepath.Join(bad, "real.toml")
	os.WriteFile(target, []byte("x"), 0o600)
	link := filepath.Join(root, "postern.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	err := CheckPerms(link)
	if err == nil || !strings.Contains(err.Error(), bad+" is writable") {
		t.Errorf("CheckPerms(symlink into a writable dir) = %v", err)
	}
}

func TestDropRefusals(t *testing.T) {
	if os.Geteuid() != 0 {
		if err := Drop(""); err != nil {
			t.Errorf("Drop(\"\") as non-root = %v, want nil", err)
		}
		return
	}
	// These fail before changing anything.
	if err := Drop(""); err == nil || !strings.Contains(err.Error(), "refusing to run as root") {
		t.Errorf("Drop(\"\") as root = %v", err)
	}
	if err := Drop("no-such-user-postern"); err == nil {
		t.Error("Drop(unknown user) succeeded")
	}
	if err := Drop("root"); err == nil || !strings.Contains(err.Error(), "uid 0") {
		t.Errorf("Drop(root) = %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("a refused Drop changed the uid")
	}
}

const childEnv = "POSTERN_PRIVS_DROP_CHILD"

// TestDrop re-executes the test binary as root to drop to "nobody" there,
// so that this process keeps its privileges.
func TestDrop(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to test dropping privileges")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		testenv.Missing(t, "user nobody")
	}
	// A file only root may read; the child must not read it after Drop.
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDropChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+secret)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDropChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestDropChild(t *testing.T) {
	secret := os.Getenv(childEnv)
	if secret == "" {
		t.Skip("run by TestDrop in a child process")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if _, err := os.ReadFile(secret); err != nil {
		t.Fatalf("as root before Drop: %v", err)
	}
	// Start threads before the drop: they must be switched too.
	const threads = 4
	start, results := make(chan struct{}), make(chan [2]int, threads)
	for range threads {
		go func() {
			runtime.LockOSThread()
			<-start
			results <- [2]int{syscall.Getuid(), syscall.Getgid()}
		}()
	}

	if err := Drop("nobody"); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	close(start)
	for range threads {
		if r := <-results; r != [2]int{uid, gid} {
			t.Errorf("a thread runs as uid/gid %v, want %d/%d", r, uid, gid)
		}
	}
	if os.Getuid() != uid || os.Geteuid() != uid || os.Getgid() != gid || os.Getegid() != gid {
		t.Errorf("ids after Drop: %d %d %d %d", os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	}
	if err := syscall.Setuid(0); err == nil {
		t.Error("setuid(0) succeeded after Drop")
	}
	if err := syscall.Seteuid(0); err == nil {
		t.Error("seteuid(0) succeeded after Drop")
	}
	if groups, _ := os.Getgroups(); len(groups) > 0 {
		for _, g := range groups {
			if g == 0 {
				t.Error("group 0 kept after Drop")
			}
		}
	}
	if _, err := os.ReadFile(secret); err == nil {
		t.Error("a root-only file is still readable after Drop")
	}
	// No longer root: a second Drop is a no-op.
	if err := Drop(""); err != nil {
		t.Errorf("Drop(\"\") after dropping = %v", err)
	}
}
