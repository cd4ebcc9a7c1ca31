package configcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"postern/internal/config"
	"postern/internal/layout"
	"postern/internal/privs"
)

// asServer runs a Check with the file-system identity of the service
// user, so that `postern check` run as root reads the maps and the users
// file the way the server will after dropping privileges. A file it
// cannot read gets the fix appended.
func asServer(c Check) Check {
	return func(cfg *config.Config) Result {
		owner, err := privs.ServiceOwner(cfg.User)
		if err != nil {
			return Result{Problems: []string{err.Error()}}
		}
		var r Result
		if err := owner.Do(func() { r = c(cfg) }); err != nil {
			return Result{Problems: []string{"cannot check as the service user: " + err.Error()}}
		}
		if owner.IsSet() {
			for i, p := range r.Problems {
				if strings.Contains(p, "permission denied") {
					r.Problems[i] = p + fmt.Sprintf(" (the server runs as %s and could not read it: run postern set-permissions%s)",
						owner.Name, configFlag(cfg))
				}
			}
		}
		return r
	}
}

// configFlag is " -config FILE" for the commands a message suggests.
func configFlag(cfg *config.Config) string {
	if cfg.File == "" {
		return ""
	}
	return " -config " + cfg.File
}

// maxAccessProblems caps the lines checkDataDir prints.
const maxAccessProblems = 20

// checkDataDir walks the data dir as the service user: the server must
// be able to read and write every directory and file in it (the spool,
// the users file, DKIM keys, DMARC data, TLS report counts, the
// generated certificate).
// The mailbox tree is checked at its top only; delivery decides below.
func checkDataDir(cfg *config.Config) Result {
	skip := layout.MailboxTop(cfg)
	var bad []string
	n := 0
	err := filepath.WalkDir(cfg.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == cfg.DataDir {
				return filepath.SkipAll // made at start
			}
			if len(bad) == 0 || !strings.HasPrefix(bad[len(bad)-1], p+":") {
				n++
				bad = append(bad, err.Error())
			}
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		mode := uint32(unix.R_OK | unix.W_OK)
		if d.IsDir() {
			mode |= unix.X_OK
		}
		if d.Type()&fs.ModeSymlink == 0 {
			if err := unix.Faccessat2(unix.AT_FDCWD, p, mode, unix.AT_EACCESS); err != nil {
				n++
				bad = append(bad, fmt.Sprintf("%s: %v", p, err))
			}
		}
		if d.IsDir() && p == skip {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		bad = append(bad, err.Error())
	}
	if len(bad) > maxAccessProblems {
		bad = append(bad[:maxAccessProblems], fmt.Sprintf("%s: and %d more paths", cfg.DataDir, n-maxAccessProblems))
	}
	if len(bad) > 0 {
		bad = append(bad, fmt.Sprintf("%s: the data dir must belong to the server's user: run postern set-permissions%s", cfg.DataDir, configFlag(cfg)))
	}
	return Result{Problems: bad}
}
