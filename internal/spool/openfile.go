package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// openFile opens a queue file with one open(2) (close-on-exec added) and
// one fcntl, which os.NewFile makes to learn the flags. os.OpenFile would
// also switch the descriptor to non-blocking mode, offer it to the
// network poller (which refuses regular files) and, on the first Fd()
// for fdatasync, switch it back: four system calls that do nothing, for
// each queue file written and each one read for delivery. The mode is
// given to open itself (with the process umask), so nothing else sets it.
func openFile(path string, flag int, perm uint32) (*os.File, error) {
	for {
		fd, err := unix.Open(path, flag|unix.O_CLOEXEC, perm)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
