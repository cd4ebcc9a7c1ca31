package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"postern/internal/config"
	"postern/internal/privs"
	"postern/internal/submit"
)

// localStages builds the rule on the envelope senders of local users
// ([local] sender_check, trusted_users). It only looks at local
// submissions, so it may sit anywhere in the stages; it runs first so
// that a refused sender is not counted by the limits.
func localStages(d *deps) ([]any, error) {
	l := d.cfg.Local
	if l.Socket == "" {
		return nil, nil
	}
	// root and the server's own user (we run as it by now) may send as
	// anyone, like sendmail's trusted users.
	trusted := map[int]bool{0: true, os.Geteuid(): true}
	for _, name := range l.TrustedUsers {
		u, err := user.Lookup(name)
		if err != nil {
			d.log.Warn("local: trusted user unknown", "user", name)
			continue
		}
		uid, err := strconv.Atoi(u.Uid)
		if err == nil {
			trusted[uid] = true
		}
	}
	return []any{&submit.SenderCheck{
		Hostname: d.cfg.Hostname,
		IsLocal:  d.relay.IsLocal,
		Trusted:  trusted,
		Warn:     l.SenderCheck == config.SenderWarn,
		Log:      d.log,
	}}, nil
}

// listenLocal opens the local submission socket, while serve still runs
// as root: its directory is created (0755, given to the server's user so
// that the socket can be removed at shutdown), a stale socket from a
// crash is removed, and the socket is made 0666: every local user may
// connect, the kernel tells the server who they are.
func listenLocal(path string, runAs *uidgid) (net.Listener, error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if runAs != nil {
			if err := os.Lchown(dir, runAs.uid, runAs.gid); err != nil {
				return nil, err
			}
		}
	}
	// Whoever may write to the directory could put their own socket in
	// its place and read other users' mail.
	if err := privs.CheckPerms(dir); err != nil {
		return nil, err
	}
	// Nor may its owner be anyone but root or the server's user.
	if fi, err := os.Stat(dir); err != nil {
		return nil, err
	} else if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		own := os.Geteuid()
		if runAs != nil {
			own = runAs.uid
		}
		if int(st.Uid) != 0 && int(st.Uid) != own {
			return nil, fmt.Errorf("%s belongs to uid %d, who could replace the socket: it must belong to root or to the server's user", dir, st.Uid)
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket; remove it or choose another [local] socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another server is already listening there", path)
		}
		// Left over from a server that did not stop cleanly.
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	if runAs != nil {
		if err := os.Lchown(path, runAs.uid, runAs.gid); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// checkLocal looks at where the local submission socket goes, for
// postern check: a place only the server can reach, a directory others
// may write to, a configuration file that users cannot read to find it.
func checkLocal(cfg *config.Config) checkResult {
	var r checkResult
	sock := cfg.Local.Socket
	if sock == "" {
		return r
	}
	file := describeConfig(cfg)
	dir := filepath.Dir(sock)
	if cfg.File != "" && (dir == cfg.DataDir || strings.HasPrefix(dir, cfg.DataDir+string(filepath.Separator))) {
		r.warnings = append(r.warnings, fmt.Sprintf("%s: warning: [local] socket %s is inside data_dir (mode 0700): only root and the server's user can send with postern sendmail (use %s)",
			file, sock, config.DefaultLocalSocket))
	}
	if _, err := os.Stat(dir); err == nil {
		r.problems = append(r.problems, errorLines(privs.CheckPerms(dir))...)
	}
	if cfg.File != "" && sock != config.DefaultLocalSocket {
		if fi, err := os.Stat(cfg.File); err == nil && fi.Mode().Perm()&0o004 == 0 {
			r.warnings = append(r.warnings, fmt.Sprintf("%s: warning: other users cannot read this file, so their postern sendmail looks for %s, not for [local] socket %s (chmod o+r the file, or use the default socket)",
				file, config.DefaultLocalSocket, sock))
		}
	}
	return r
}
