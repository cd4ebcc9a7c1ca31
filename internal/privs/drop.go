// Package privs gives up root after the listening sockets are bound, and
// refuses files that others could have written, as sendmail does.
package privs

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Drop switches the process to the named user, its primary group and its
// supplementary groups, then checks that root cannot be regained. The
// syscall package applies the changes to every thread of the process.
//
// Not running as root, Drop does nothing (there is nothing to give up).
// Running as root with user empty, it refuses: postern never keeps root.
func Drop(name string) error {
	if os.Geteuid() != 0 && os.Getuid() != 0 {
		return nil
	}
	if name == "" {
		return errors.New("refusing to run as root: set user in the configuration")
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("user %q: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("user %q: non-numeric uid %q or gid %q", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return fmt.Errorf("user %q has uid 0: refusing to run as root", name)
	}
	groups, err := groupIDs(u, gid)
	if err != nil {
		return err
	}
	// Groups first: once the uid is not 0 they can no longer be changed.
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("setresgid %d: %w", gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setresuid %d: %w", uid, err)
	}
	return verify(uid, gid)
}

func groupIDs(u *user.User, gid int) ([]int, error) {
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of %q: %w", u.Username, err)
	}
	set := map[int]bool{gid: true}
	for _, s := range ids {
		g, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("groups of %q: non-numeric gid %q", u.Username, s)
		}
		set[g] = true
	}
	out := make([]int, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	sort.Ints(out)
	return out, nil
}

// verify checks that the real, effective and saved ids are the new ones
// and that switching back to root fails.
func verify(uid, gid int) error {
	r, e, s := unix.Getresuid()
	if r != uid || e != uid || s != uid {
		return fmt.Errorf("after dropping privileges the uids are %d/%d/%d, want %d", r, e, s, uid)
	}
	rg, eg, sg := unix.Getresgid()
	if rg != gid || eg != gid || sg != gid {
		return fmt.Errorf("after dropping privileges the gids are %d/%d/%d, want %d", rg, eg, sg, gid)
	}
	if err := syscall.Setuid(0); err == nil {
		return errors.New("setuid(0) succeeded after dropping privileges: root can be regained")
	}
	if err := syscall.Setgid(0); err == nil {
		return errors.New("setgid(0) succeeded after dropping privileges")
	}
	return nil
}
