package status

import (
	"fmt"
	"path/filepath"

	"postern/internal/maps"
	"postern/internal/metrics"
)

// LoadFix is what to do about a file the server cannot read.
const LoadFix = "fix the file, run postern set-permissions, then postern check"

// Loads are the files the server rereads while it runs, with their load
// records: what postern_map_load_errors_total counts and the PROBLEMS of
// postern status list.
type Loads struct {
	// Maps are the maps of maps_dir; nil without maps_dir.
	Maps interface {
		Dir() string
		LoadStates() []maps.LoadState
	}
	// Users is the users file or table; one that also has
	// UnavailableText (users.Store) says when no version is in force.
	Users interface {
		LoadError() (error, uint64)
	}
}

// Metrics are the load records of the files that failed to load at
// least once.
func (l Loads) Metrics() []metrics.FileLoad {
	var out []metrics.FileLoad
	if l.Maps != nil {
		for _, s := range l.Maps.LoadStates() {
			out = append(out, metrics.FileLoad{Name: s.File, Failures: s.Failures, Failing: s.Err != nil})
		}
	}
	if err, n := l.Users.LoadError(); n > 0 {
		out = append(out, metrics.FileLoad{Name: "users", Failures: n, Failing: err != nil})
	}
	return out
}

// Problems says, one line per file, what the server could not reload
// and what it serves instead.
func (l Loads) Problems() []string {
	var out []string
	if l.Maps != nil {
		for _, s := range l.Maps.LoadStates() {
			if s.Err != nil {
				out = append(out, fmt.Sprintf("map %s not reloaded, previous version in force: %v (%s)",
					filepath.Join(l.Maps.Dir(), s.File), s.Err, LoadFix))
			}
		}
	}
	if u, ok := l.Users.(interface{ UnavailableText() string }); ok && u.UnavailableText() != "" {
		// A users table ([postgres_users]) not read past its stale period.
		out = append(out, "users unavailable: AUTH answers 454 and local recipients 451 until they can be read: "+u.UnavailableText())
	} else if err, _ := l.Users.LoadError(); err != nil {
		out = append(out, fmt.Sprintf("users not reloaded, previous version in force: %v (%s)", err, LoadFix))
	}
	return out
}
