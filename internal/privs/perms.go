package privs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckPerms refuses paths that someone other than their owner could
// have written: a path (file or directory) writable by group or others,
// or a directory above it writable by group or others, up to /. A
// world-writable directory with the sticky bit (such as /tmp) is accepted
// above a path, never as the path itself. Symbolic links are followed and
// both the written and the resolved path are checked. A path that does not
// exist yet is fine when the directories above it are.
//
// The error names every offending path, one per line.
func CheckPerms(paths ...string) error {
	c := &permChecker{seen: map[string]bool{}}
	for _, p := range paths {
		c.check(p)
	}
	return errors.Join(c.errs...)
}

type permChecker struct {
	errs []error
	seen map[string]bool // directories already checked as ancestors
}

func (c *permChecker) check(p string) {
	abs, err := filepath.Abs(p)
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", p, err))
		return
	}
	c.path(abs, p)
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		c.path(real, p)
	}
}

// path checks abs itself and its ancestors; name is what the caller gave.
func (c *permChecker) path(abs, name string) {
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		c.errs = append(c.errs, fmt.Errorf("%s: %w", abs, err))
	case fi.Mode().Perm()&0o022 != 0:
		c.errs = append(c.errs, fmt.Errorf("%s is writable by group or others (mode %04o): run chmod go-w %s",
			abs, fi.Mode().Perm(), abs))
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		c.ancestor(dir, name)
		if dir == filepath.Dir(dir) {
			break
		}
	}
}

func (c *permChecker) ancestor(dir, name string) {
	if c.seen[dir] {
		return
	}
	c.seen[dir] = true
	fi, err := os.Stat(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.errs = append(c.errs, fmt.Errorf("%s: %w", dir, err))
		}
		return
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		c.errs = append(c.errs, fmt.Errorf("%s is writable by group or others (mode %04o), so %s could be replaced: run chmod go-w %s",
			dir, fi.Mode().Perm(), name, dir))
	}
}
