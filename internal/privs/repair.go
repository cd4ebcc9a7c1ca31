package privs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Repair gives an installation the ownership and modes the server needs,
// as Postfix's set-permissions does, and returns one line per change:
//
//   - the data dir and everything in it belong to o; the data dir is 0700
//     (its users file, keys and spool are for the server alone); nothing
//     in it is writable by group or others;
//   - each of readable (the maps directory and map files) stays with its
//     owner but becomes readable by o, through o's group when others may
//     not read it, and loses group and other write.
//
// Symbolic links are left alone. With dryRun nothing is changed and the
// lines say what would be.
func Repair(o Owner, dataDir string, readable []string, dryRun bool) ([]string, error) {
	if !o.set {
		return nil, fmt.Errorf("repairing permissions needs root and a configured user")
	}
	r := &repairer{o: o, dry: dryRun}
	if err := r.dataTree(dataDir); err != nil {
		return r.changes, err
	}
	for _, p := range readable {
		if err := r.readable(p); err != nil {
			return r.changes, err
		}
	}
	return r.changes, nil
}

type repairer struct {
	o       Owner
	dry     bool
	changes []string
}

func (r *repairer) dataTree(top string) error {
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != r.o.UID || int(st.Gid) != r.o.GID {
			if err := r.chown(p, r.o.UID, r.o.GID, fmt.Sprintf("%s: owner %d:%d -> %s (%d:%d)", p, st.Uid, st.Gid, r.o.Name, r.o.UID, r.o.GID)); err != nil {
				return err
			}
		}
		mode := fi.Mode().Perm() &^ 0o022
		if p == top {
			mode = 0o700
		}
		return r.chmod(p, fi.Mode().Perm(), mode)
	})
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// readable makes p readable (and for a directory searchable) by r.o.
func (r *repairer) readable(p string) error {
	fi, err := os.Lstat(p)
	if os.IsNotExist(err) || err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	need := fs.FileMode(0o4)
	if fi.IsDir() {
		need = 0o5
	}
	old := fi.Mode().Perm()
	mode := old &^ 0o022
	switch {
	case int(st.Uid) == r.o.UID || mode&need == need:
	case int(st.Gid) == r.o.GID:
		mode |= need << 3
	default:
		// The file keeps its owner (-1): only the group changes.
		if err := r.chown(p, -1, r.o.GID, fmt.Sprintf("%s: group %d -> %d (%s's group), so the server can read it", p, st.Gid, r.o.GID, r.o.Name)); err != nil {
			return err
		}
		mode |= need << 3
	}
	return r.chmod(p, old, mode)
}

func (r *repairer) chown(p string, uid, gid int, line string) error {
	r.changes = append(r.changes, line)
	if r.dry {
		return nil
	}
	return os.Lchown(p, uid, gid)
}

func (r *repairer) chmod(p string, old, mode fs.FileMode) error {
	if old == mode {
		return nil
	}
	r.changes = append(r.changes, fmt.Sprintf("%s: mode %04o -> %04o", p, old, mode))
	if r.dry {
		return nil
	}
	return os.Chmod(p, mode)
}
