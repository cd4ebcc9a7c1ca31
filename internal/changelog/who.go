package changelog

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// CommandUser is who runs a command: SUDO_USER when root runs it through
// sudo, else the login name, else the uid.
func CommandUser() string {
	if s := os.Getenv("SUDO_USER"); s != "" {
		return s
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

// FileOwner names the owner of path (uid to name), for a change seen on
// disk; "" when the file cannot be looked at.
func FileOwner(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	id := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "uid " + id
}
