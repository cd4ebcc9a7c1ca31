package submit

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"postern/internal/privs"
)

// Listen opens the local submission socket, while the server still runs
// as root: its directory is created (0755, given to uid:gid so that the
// socket can be removed at shutdown), a stale socket from a crash is
// removed, and the socket is made 0666: every local user may connect,
// the kernel tells the server who they are. uid and gid are the server's
// user; -1 leaves the owner to the process (not started as root).
func Listen(path string, uid, gid int) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := socketDir(dir, uid, gid); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	if uid >= 0 {
		if err := os.Lchown(path, uid, gid); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// socketDir makes the socket's directory when it does not exist and
// checks that nobody but root or the server's user could replace the
// socket in it.
func socketDir(dir string, uid, gid int) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		if uid >= 0 {
			if err := os.Lchown(dir, uid, gid); err != nil {
				return err
			}
		}
	}
	// Whoever may write to the directory could put their own socket in
	// its place and read other users' mail.
	if err := privs.CheckPerms(dir); err != nil {
		return err
	}
	// Nor may its owner be anyone but root or the server's user.
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		own := os.Geteuid()
		if uid >= 0 {
			own = uid
		}
		if int(st.Uid) != 0 && int(st.Uid) != own {
			return fmt.Errorf("%s belongs to uid %d, who could replace the socket: it must belong to root or to the server's user", dir, st.Uid)
		}
	}
	return nil
}

// removeStale removes a socket left over from a server that did not stop
// cleanly; a live one, or anything but a socket, is an error.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; remove it or choose another [local] socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s: another server is already listening there", path)
	}
	return os.Remove(path)
}
