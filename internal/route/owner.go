package route

import (
	"io/fs"
	"os/user"
	"strconv"
	"syscall"
)

func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// SystemHome finds a system account in the password database.
func SystemHome(name string) (home string, uid int, ok bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", 0, false
	}
	id, err := strconv.Atoi(u.Uid)
	if err != nil {
		return "", 0, false
	}
	return u.HomeDir, id, true
}
