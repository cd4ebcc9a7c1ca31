package changewatch

import (
	"fmt"

	"postern/internal/changelog"
)

// Problems lists, one line per watched file, a latest version that was
// rejected (with the last good one to roll back to) or a changed config
// file not checked yet, for /status.
func (w *Watcher) Problems() []string {
	if w == nil {
		return nil
	}
	list, err := w.store.List()
	if err != nil {
		return []string{fmt.Sprintf("change log %s cannot be read: %v", w.store.Dir(), err)}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, f := range w.files {
		if p := rejected(list, f); p != "" {
			out = append(out, p)
		}
		if p := w.unread[f.Name]; p != "" {
			out = append(out, p)
		}
	}
	return out
}

// rejected describes f's latest entry when it failed its check.
func rejected(list []changelog.Entry, f File) string {
	var latest *changelog.Entry
	good := 0
	for i := range list {
		if list[i].File != f.Name {
			continue
		}
		if latest == nil {
			latest = &list[i]
		}
		if list[i].Applied && good == 0 {
			good = list[i].N
		}
	}
	if latest == nil || latest.Applied {
		return ""
	}
	what := "the running version stays"
	if f.Config {
		what = "the server would not start with it"
	}
	fix := "fix the file"
	if good > 0 {
		fix += fmt.Sprintf(" or run `postern rollback %d`", good)
	}
	return fmt.Sprintf("%s: change %d was rejected (%s; %s): %s; see `postern changes show %d`",
		f.Name, latest.N, firstLine(latest.Check), what, fix, latest.N)
}

// LastGood is the newest entry of file that passed its check; 0 when
// there is none.
func LastGood(store *changelog.Store, file string) int {
	list, err := store.List()
	if err != nil {
		return 0
	}
	for _, e := range list {
		if e.File == file && e.Applied {
			return e.N
		}
	}
	return 0
}
