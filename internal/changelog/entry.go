package changelog

import "time"

// Entry is one recorded change of a watched file: the config file, a map
// or the users file.
type Entry struct {
	// N numbers the entries from 1, in the order they were recorded.
	N int `json:"n"`
	// Time is when postern saw the new version.
	Time time.Time `json:"time"`
	// File is the changed file's path.
	File string `json:"file"`
	// Who changed it: the console user, the user running the command
	// (SUDO_USER or the login name), or the file's owner.
	Who string `json:"who"`
	// Kind is "first" (the first version seen), "change" or "rollback"
	// (postern rollback wrote it back).
	Kind string `json:"kind"`
	// Applied says whether the version went into use; a version that
	// failed its check is recorded with Applied false and the running
	// version stays.
	Applied bool `json:"applied"`
	// Check is the result of checking the version: "ok", or the problems
	// found, one per line.
	Check string `json:"check"`
	// Diff is a unified diff against the previous version (empty for the
	// first).
	Diff string `json:"diff"`
}
