package submit

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"postern/internal/testenv"
)

func TestListen(t *testing.T) {
	base := t.TempDir()
	sock := filepath.Join(base, "run", "s.sock")
	ln, err := Listen(sock, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(sock)); di.Mode().Perm() != 0o755 {
		t.Errorf("directory mode %v", di.Mode())
	}
	// A second server on the same socket is refused while the first runs.
	if _, err := Listen(sock, -1, -1); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Errorf("second listener: %v", err)
	}
	// A socket left behind by a crash is replaced.
	ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(sock, -1, -1)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln2.Close()
	// Not a socket: left alone.
	plain := filepath.Join(base, "run", "file")
	os.WriteFile(plain, nil, 0o600)
	if _, err := Listen(plain, -1, -1); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("plain file: %v", err)
	}
	// A directory others may write to.
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := Listen(filepath.Join(open, "s.sock"), -1, -1); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("world-writable directory: %v", err)
	}
	if os.Geteuid() == 0 {
		// A directory of another user.
		theirs := filepath.Join(base, "theirs")
		os.Mkdir(theirs, 0o755)
		os.Chown(theirs, 33, 33)
		if _, err := Listen(filepath.Join(theirs, "s.sock"), -1, -1); err == nil || !strings.Contains(err.Error(), "belongs to uid 33") {
			t.Errorf("directory of another user: %v", err)
		}
	}
}

// Started as root, the server gives the socket and the directory it
// made to its user.
func TestListenGivesToServerUser(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to change owners")
	}
	sock := filepath.Join(t.TempDir(), "run", "s.sock")
	ln, err := Listen(sock, 65534, 65534)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, p := range []string{sock, filepath.Dir(sock)} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 {
			t.Errorf("%s: owner %d:%d", p, st.Uid, st.Gid)
		}
	}
}

func TestTrustedUIDs(t *testing.T) {
	got := TrustedUIDs([]string{"root", "no-such-user-here"}, slog.New(slog.DiscardHandler))
	if !got[0] || !got[os.Geteuid()] || len(got) > 2 {
		t.Errorf("%v", got)
	}
}
