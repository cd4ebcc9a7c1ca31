// Package changescmd is the command line of the change log: `postern
// changes list|show N`, `postern rollback N` and `postern reload`, run
// by root beside the server (which runs as its own user and reads the
// same data_dir/changes).
package changescmd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"postern/internal/changelog"
	"postern/internal/changewatch"
	"postern/internal/config"
	"postern/internal/layout"
	"postern/internal/privs"
	"postern/internal/status"
)

// target is what a command works on: the config file (loaded or not),
// the watched files it names and the change log.
type target struct {
	path   string // the config file
	text   []byte // its current text ("" for the embedded default)
	cfg    *config.Config
	err    error // why cfg did not load
	admin  status.Endpoint
	files  []changewatch.File
	store  *changelog.Store
	errw   io.Writer
	stdout io.Writer
}

// open finds the config file (as every command does), loads it, and
// opens the change log of its data dir. A config file that does not load
// still names its data dir and admin listener (see salvage), so that
// the log, reload and rollback work to repair it.
func open(flagPath string, stdout, errw io.Writer) (*target, error) {
	t := &target{path: layout.ConfigFile(flagPath), stdout: stdout, errw: errw}
	if t.path != "" {
		if abs, err := filepath.Abs(t.path); err == nil && !filepath.IsAbs(t.path) {
			t.path = abs
		}
		data, err := os.ReadFile(t.path)
		if err != nil {
			return nil, err
		}
		t.text = data
	}
	var dataDir string
	t.cfg, _, t.err = config.Load(t.path)
	if t.err == nil {
		dataDir, t.admin = t.cfg.DataDir, status.AdminOf(t.cfg)
		t.files = changewatch.Files(t.cfg, nil, true)
	} else {
		l := changewatch.Locate(t.path, string(t.text))
		dataDir, t.admin = l.DataDir, status.Endpoint{Address: l.Admin.Address}
		t.files = []changewatch.File{{Name: t.path, Path: t.path, Config: true, Check: changewatch.FullCheck}}
	}
	if _, err := os.Stat(dataDir); err != nil {
		return nil, fmt.Errorf("data dir %s: %w (the change log is kept there)", dataDir, err)
	}
	// The data dir belongs to the service user; so does what we write.
	owner, err := privs.OwnerOf(dataDir)
	if err != nil {
		return nil, err
	}
	if t.store, err = changelog.Open(filepath.Join(dataDir, "changes"), owner); err != nil {
		return nil, err
	}
	return t, nil
}

// file is the watched file named name; when the config file does not
// load, a map or the users file known by its name.
func (t *target) file(name string) (changewatch.File, bool) {
	for _, f := range t.files {
		if f.Name == name {
			return f, true
		}
	}
	if t.err != nil {
		return changewatch.ByName(name)
	}
	return changewatch.File{}, false
}
