package privs

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Do runs f with the file-system identity of o (fsuid, fsgid and the
// supplementary groups), so that every open, stat and access check in f
// is decided as the server would see it: this is how `postern check`, run
// as root, finds the files the server will not be able to read. The zero
// Owner runs f as the caller.
//
// The change is made on one locked OS thread only, and undone before
// the thread is unlocked; the rest of the process keeps its identity.
// Should undoing fail, the thread stays locked and the runtime discards
// it with the goroutine. Never leaving a changed thread behind matters:
// the main thread cannot be discarded, only parked, and a parked thread
// would miss a later privilege drop. f must not start goroutines that
// open files.
func (o Owner) Do(f func()) error {
	if !o.set {
		f()
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		saved, err := currentFS()
		if err == nil {
			if err = o.setThreadFS(); err == nil {
				f()
			}
		}
		// Undo before reporting, so that no thread is changed once Do
		// returns.
		if saved.set && saved.setThreadFS() == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// currentFS is the calling thread's file-system identity, to restore.
func currentFS() (Owner, error) {
	groups, err := unix.Getgroups()
	if err != nil {
		return Owner{}, fmt.Errorf("getgroups: %w", err)
	}
	uid, _ := unix.SetfsuidRetUid(-1)
	gid, _ := unix.SetfsgidRetGid(-1)
	return Owner{UID: uid, GID: gid, Groups: groups, Name: "the caller", set: true}, nil
}

// setThreadFS switches the calling thread's file-system identity to o.
// The raw setgroups system call changes only the calling thread (the
// syscall package's Setgroups would change every thread).
func (o Owner) setThreadFS() error {
	groups := make([]uint32, len(o.Groups))
	for i, g := range o.Groups {
		groups[i] = uint32(g)
	}
	var p unsafe.Pointer
	if len(groups) > 0 {
		p = unsafe.Pointer(&groups[0])
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0); errno != 0 {
		return fmt.Errorf("setgroups for %s: %w", o.Name, errno)
	}
	unix.Setfsgid(o.GID)
	unix.Setfsuid(o.UID)
	// setfsuid reports no error; read the ids back to be sure.
	if got, _ := unix.SetfsuidRetUid(-1); got != o.UID {
		return fmt.Errorf("setfsuid %d for %s did not take (fsuid is %d)", o.UID, o.Name, got)
	}
	if got, _ := unix.SetfsgidRetGid(-1); got != o.GID {
		return fmt.Errorf("setfsgid %d for %s did not take (fsgid is %d)", o.GID, o.Name, got)
	}
	return nil
}
