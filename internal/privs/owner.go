package privs

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// Owner is the account the server runs as, to which files that root's
// commands write for the server are handed. The zero Owner changes
// nothing: the command does not run as root, or no user is configured,
// so what it writes already belongs to whoever runs the server.
type Owner struct {
	UID, GID int
	Name     string
	Groups   []int // supplementary groups, primary one included
	set      bool
}

// ServiceOwner resolves the configured service user when the process is
// root; otherwise it returns the zero Owner.
func ServiceOwner(name string) (Owner, error) {
	if os.Geteuid() != 0 || name == "" {
		return Owner{}, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return Owner{}, fmt.Errorf("service user %q: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return Owner{}, fmt.Errorf("service user %q: non-numeric uid %q or gid %q", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return Owner{}, fmt.Errorf("service user %q has uid 0: choose an unprivileged account", name)
	}
	groups, err := groupIDs(u, gid)
	if err != nil {
		return Owner{}, err
	}
	return Owner{UID: uid, GID: gid, Name: name, Groups: groups, set: true}, nil
}

// IsSet reports whether o changes anything.
func (o Owner) IsSet() bool { return o.set }

// Credential is what a child process needs to run as o (nil for the
// zero Owner: the child runs as the caller).
func (o Owner) Credential() *syscall.Credential {
	if !o.set {
		return nil
	}
	groups := make([]uint32, len(o.Groups))
	for i, g := range o.Groups {
		groups[i] = uint32(g)
	}
	return &syscall.Credential{Uid: uint32(o.UID), Gid: uint32(o.GID), Groups: groups}
}

// Give hands each path, and for a directory everything below it, to o,
// without following symbolic links. Paths that do not exist are skipped.
func (o Owner) Give(paths ...string) error {
	if !o.set {
		return nil
	}
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, o.UID, o.GID)
		})
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("give %s to %s: %w", p, o.Name, err)
		}
	}
	return nil
}

// OwnerOf returns the owner of dir as an Owner when the process is root
// and dir belongs to another account (a data dir the server owns), and
// the zero Owner otherwise.
func OwnerOf(dir string) (Owner, error) {
	if os.Geteuid() != 0 {
		return Owner{}, nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return Owner{}, nil
		}
		return Owner{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return Owner{}, nil
	}
	name := strconv.Itoa(int(st.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return Owner{UID: int(st.Uid), GID: int(st.Gid), Name: name, set: true}, nil
}
