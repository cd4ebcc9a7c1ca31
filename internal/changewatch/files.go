// Package changewatch records every version of the files the server
// reads (the config file, the maps, the users file) in the change log,
// each checked before it is used: at start, on SIGHUP and POST /reload,
// and when a change is seen on disk. The maps and the users file apply
// live (their own reloads keep the previous version when a new one fails
// the same parser); the config file takes effect at the next start.
package changewatch

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"postern/internal/config"
	"postern/internal/configcheck"
	"postern/internal/layout"
	"postern/internal/maps"
	"postern/internal/users"
)

// File is one watched file.
type File struct {
	// Name is the path recorded in the change log (absolute).
	Name string
	// Path is the path to open (relative inside the data dir when the
	// server works from there).
	Path string
	// Config marks the config file: a version that passes takes effect
	// at the next start.
	Config bool
	// Check returns the problems of a version, none when it may be used.
	Check func(path string, data []byte) []string
	// Redact hides secrets from the diff (nil: nothing to hide).
	Redact func(string) string
}

// Files lists the watched files of cfg: names from shown (the
// configuration as read), paths to open from cfg (after layout.Enter;
// the same as shown when nil). full selects the complete `postern check`
// for the config file (root's commands); the server checks it with the
// config loader, as it has no root to read everything the check reads.
func Files(shown, cfg *config.Config, full bool) []File {
	if cfg == nil {
		cfg = shown
	}
	var out []File
	if shown.File != "" {
		check := loadCheck
		if full {
			check = FullCheck
		}
		out = append(out, File{Name: shown.File, Path: cfg.File, Config: true, Check: check})
	}
	names, paths := layout.MapFiles(shown), layout.MapFiles(cfg)
	for i := range names {
		out = append(out, File{Name: names[i], Path: paths[i], Check: mapCheck})
	}
	return append(out, File{Name: shown.UsersFile(), Path: cfg.UsersFile(), Check: usersCheck, Redact: users.Redact})
}

func mapCheck(path string, data []byte) []string {
	return configcheck.ErrorLines(maps.CheckFile(path, data))
}

func usersCheck(path string, data []byte) []string {
	return configcheck.ErrorLines(users.Check(path, data))
}

// loadCheck loads the version as the server would at its next start.
func loadCheck(path string, data []byte) []string {
	return checkCopy(path, data, func(tmp string) []string {
		_, _, err := config.Load(tmp)
		return configcheck.ErrorLines(err)
	})
}

// FullCheck runs `postern check` on a version of the config file.
func FullCheck(path string, data []byte) []string {
	return checkCopy(path, data, func(tmp string) []string {
		cfg, warnings, err := config.Load(tmp)
		var out, errw bytes.Buffer
		if configcheck.Run(&out, &errw, cfg, warnings, err) == 0 {
			return nil
		}
		return problemLines(errw.String())
	})
}

// problemLines keeps the lines of a check's output that are neither
// warnings nor its summary.
func problemLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "postern check:") && !strings.Contains(l, ": warning: ") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = []string{"postern check failed"}
	}
	return out
}

// checkCopy runs check on a copy of data beside path (so that relative
// paths in it mean the same), with the copy's name put back as path in
// what check says. With the version already at path, it checks path.
func checkCopy(path string, data []byte, check func(string) []string) []string {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		return check(path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".check*")
	if err != nil {
		return []string{path + ": cannot make a copy to check: " + err.Error()}
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return []string{path + ": " + err.Error()}
	}
	lines := check(tmp)
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, tmp, path)
	}
	return lines
}

// maxRead bounds a watched file (the maps' own bound).
const maxRead = 64<<20 + 1

// readFile reads a watched file; a missing one reads as empty (an empty
// map, no users) with exists false.
func readFile(path string) (data []byte, exists bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, maxRead))
	return data, true, err
}

// ByName is the watched file at path judged by its name alone (a map
// by its map name, the users file), for when the config file that names
// it does not load.
func ByName(path string) (File, bool) {
	base := filepath.Base(path)
	if base == "users" {
		return File{Name: path, Path: path, Check: usersCheck, Redact: users.Redact}, true
	}
	for _, m := range maps.FileNames() {
		if base == m {
			return File{Name: path, Path: path, Check: mapCheck}, true
		}
	}
	return File{}, false
}
