// Package sandbox confines the running server to the files it needs,
// with Linux's Landlock: read-only configuration, maps and system files,
// read-write data dir, mailboxes and socket directory, nothing else. It
// is applied once, after the listeners are bound and privileges dropped,
// and holds for every thread and every program the server starts.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// Paths lists what the server may reach once confined. Paths that do not
// exist are left out (and listed in Status.Missing).
type Paths struct {
	ReadDirs   []string // read (and list) everything below
	ReadFiles  []string // read these files
	WriteDirs  []string // read, write, create, rename and remove below
	WriteFiles []string // read and write these files (/dev/null)
}

// Status says whether the sandbox holds and, when it does not, why.
type Status struct {
	Active  bool
	ABI     int    // the kernel's Landlock ABI version, 0 when it has none
	Reason  string // why the sandbox is not active; "" when it is
	Paths   Paths  // what is allowed, when active
	Missing []string
}

// String is the line `postern status` shows.
func (s Status) String() string {
	if !s.Active {
		return "not active: " + s.Reason
	}
	return fmt.Sprintf("Landlock ABI %d active: read %s; write %s", s.ABI,
		strings.Join(append(append([]string{}, s.Paths.ReadDirs...), s.Paths.ReadFiles...), ", "),
		strings.Join(append(append([]string{}, s.Paths.WriteDirs...), s.Paths.WriteFiles...), ", "))
}

// ABI returns the kernel's Landlock ABI version, or 0 and the reason
// there is none.
func ABI() (int, string) {
	v, err := llsys.LandlockGetABIVersion()
	switch {
	case errors.Is(err, syscall.ENOSYS):
		return 0, "the kernel has no Landlock (Linux 5.13 or later with CONFIG_SECURITY_LANDLOCK)"
	case errors.Is(err, syscall.EOPNOTSUPP):
		return 0, "Landlock is built into the kernel but not enabled (add landlock to the lsm= boot parameter)"
	case err != nil:
		return 0, fmt.Sprintf("Landlock is not usable here: %v", err)
	}
	return v, ""
}

// maxABI is the newest Landlock ABI the rules below are written for;
// newer kernels are used at this level, so that rights they add (such as
// connecting to unix sockets) are not taken away unasked.
const maxABI = 7

// Restrict confines the process to p. Without Landlock in the kernel it
// changes nothing and says why; an error means the kernel has Landlock
// and refused the rules.
func Restrict(p Paths) (Status, error) {
	abi, why := ABI()
	if abi == 0 {
		return Status{Reason: why}, nil
	}
	st := Status{ABI: abi}
	keep := func(paths []string, dir bool) []string {
		var out []string
		seen := map[string]bool{}
		for _, path := range paths {
			fi, err := os.Stat(path)
			if err != nil || fi.IsDir() != dir {
				st.Missing = append(st.Missing, path)
				continue
			}
			if !seen[path] {
				seen[path] = true
				out = append(out, path)
			}
		}
		sort.Strings(out)
		return out
	}
	st.Paths = Paths{
		ReadDirs:   keep(p.ReadDirs, true),
		ReadFiles:  keep(p.ReadFiles, false),
		WriteDirs:  keep(p.WriteDirs, true),
		WriteFiles: keep(p.WriteFiles, false),
	}
	err := landlock.V7.BestEffort().RestrictPaths(
		landlock.RODirs(st.Paths.ReadDirs...),
		landlock.ROFiles(st.Paths.ReadFiles...),
		// Moving a file from one directory to another (the spool's and
		// Maildir's tmp to new) is the "refer" right.
		landlock.RWDirs(st.Paths.WriteDirs...).WithRefer(),
		landlock.RWFiles(st.Paths.WriteFiles...),
	)
	if err != nil {
		return Status{ABI: abi, Reason: err.Error()}, fmt.Errorf("landlock: %w", err)
	}
	st.Active = true
	return st, nil
}
