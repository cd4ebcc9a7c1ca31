package changewatch

import (
	"postern/internal/changelog"
	"postern/internal/users"
)

// ObserveMap records a copy of a map read from a directory or database
// (maps.External's Observe): a new version gets an entry under its
// source's name, with a diff against the previous copy, applied when it
// parsed and rejected (the previous copy stays) when it did not. The
// same text as the last entry adds nothing. A nil Watcher records
// nothing.
func (w *Watcher) ObserveMap(file, where string, text []byte, parseErr error) {
	w.observe(where, text, parseErr, nil)
}

// ObserveUsers records a copy of the users table read from a database
// (users.RemoteOptions' Observe) as ObserveMap does, with the hashes
// hidden as in the users file's entries.
func (w *Watcher) ObserveUsers(where string, text []byte, parseErr error) {
	w.observe(where, text, parseErr, users.Redact)
}

func (w *Watcher) observe(where string, text []byte, parseErr error, redact func(string) string) {
	if w == nil {
		return
	}
	check := "ok"
	if parseErr != nil {
		check = parseErr.Error()
	}
	e, added, err := w.store.Record(changelog.Version{File: where, Data: text, Who: "(the shared source)",
		Applied: parseErr == nil, Check: check, Redact: redact})
	if err != nil {
		w.log.Error("change log: cannot record a version", "file", where, "dir", w.store.Dir(), "err", err)
		return
	}
	if added {
		w.logEntry(File{Name: where}, e)
	}
}
