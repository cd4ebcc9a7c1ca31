package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenFile: a queue file opened the short way is created only once
// (O_EXCL), with mode 0600, blocking and close-on-exec, and a missing
// file is os.ErrNotExist as from os.Open.
func TestOpenFile(t *testing.T) {
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	path := filepath.Join(t.TempDir(), "M1.tmp")
	f, err := openFile(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("content"); err != nil {
		t.Fatal(err)
	}
	if err := fdatasync(f); err != nil {
		t.Fatal(err)
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("flags %#x, %v: want blocking", fl, err)
	}
	fdfl, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || fdfl&unix.FD_CLOEXEC == 0 {
		t.Errorf("descriptor flags %#x, %v: want close-on-exec", fdfl, err)
	}
	f.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if _, err := openFile(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600); !errors.Is(err, os.ErrExist) {
		t.Errorf("second create: %v, want ErrExist", err)
	}
	r, err := openFile(path, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 7)
	if _, err := r.ReadAt(b, 0); err != nil || string(b) != "content" {
		t.Errorf("read %q, %v", b, err)
	}
	r.Close()
	if _, err := openFile(path+".none", unix.O_RDONLY, 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
