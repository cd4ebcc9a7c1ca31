package main

import (
	"fmt"
	"path/filepath"

	"postern/internal/metrics"
)

// fileLoads reads the load records of the maps and the users file, for
// postern_map_load_errors_total.
func fileLoads(d *deps) []metrics.FileLoad {
	var out []metrics.FileLoad
	if d.maps != nil {
		for _, l := range d.maps.LoadStates() {
			out = append(out, metrics.FileLoad{Name: l.File, Failures: l.Failures, Failing: l.Err != nil})
		}
	}
	if err, n := d.users.LoadError(); n > 0 {
		out = append(out, metrics.FileLoad{Name: "users", Failures: n, Failing: err != nil})
	}
	return out
}

// loadProblems says, one line per file, what the server could not reload
// and what it serves instead, for `postern status`.
func loadProblems(d *deps) []string {
	var out []string
	if d.maps != nil {
		for _, l := range d.maps.LoadStates() {
			if l.Err != nil {
				out = append(out, fmt.Sprintf("map %s not reloaded, previous version in force: %v (%s)",
					filepath.Join(d.maps.Dir(), l.File), l.Err, loadFix))
			}
		}
	}
	if err, _ := d.users.LoadError(); err != nil {
		out = append(out, fmt.Sprintf("users file not reloaded, previous version in force: %v (%s)", err, loadFix))
	}
	return out
}

// loadFix is what to do about a file the server cannot read.
const loadFix = "fix the file, run postern set-permissions, then postern check"
