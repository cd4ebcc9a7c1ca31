package changewatch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"postern/internal/changelog"
)

// Alerter raises an alert through the configured channels (met by
// *alert.Detector, which does nothing when nil).
type Alerter interface {
	Notice(ctx context.Context, kind, subject, text string)
}

// Watcher records the versions of the watched files in the store. The
// console and `postern changes` read the same store (List, Get).
type Watcher struct {
	store *changelog.Store
	files []File
	log   *slog.Logger
	alert Alerter
	who   string // who changed the files, when known (the command's user)

	mu     sync.Mutex
	stamps map[string]stamp
	// unread holds the files that changed but could not be read (the
	// config file, which is root's), with why.
	unread map[string]string
	seen   int // the newest entry already alerted on
}

// stamp tells versions apart without reading them.
type stamp struct {
	mod   time.Time
	size  int64
	ino   uint64
	ctime int64
}

func statOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	st := stamp{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino, st.ctime = uint64(sys.Ino), sys.Ctim.Nano()
	}
	return st, nil
}

// New returns a watcher of files recording into store. Call Pass once at
// start (while the server can still read the config file).
func New(store *changelog.Store, files []File, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{store: store, files: files, log: log, stamps: map[string]stamp{}, unread: map[string]string{}}
	if l, err := store.List(); err == nil && len(l) > 0 {
		w.seen = l[0].N
	}
	return w
}

// WithAlerts sets where rejected changes are alerted and returns w.
func (w *Watcher) WithAlerts(a Alerter) *Watcher {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.alert = a
	return w
}

// SetWho names who changed the files for the entries of this watcher
// (a command's user); otherwise each file's owner is named.
func (w *Watcher) SetWho(who string) { w.who = who }

// List returns the change log, newest first (for the console).
// A nil Watcher (no data_dir to keep a log in) has no changes.
func (w *Watcher) List() ([]changelog.Entry, error) {
	if w == nil {
		return nil, nil
	}
	return w.store.List()
}

// Get returns change n with its diff (for the console).
func (w *Watcher) Get(n int) (changelog.Entry, error) {
	if w == nil {
		return changelog.Entry{}, fmt.Errorf("no change %d: no change log is kept", n)
	}
	return w.store.Get(n)
}

// Reload checks and records every watched file (SIGHUP, POST /reload);
// the error names the versions that were rejected.
func (w *Watcher) Reload() error {
	if w == nil {
		return nil
	}
	var errs []error
	for _, e := range w.Pass(true) {
		if !e.Applied {
			errs = append(errs, fmt.Errorf("change %d of %s rejected: %s", e.N, e.File, firstLine(e.Check)))
		}
	}
	return errors.Join(errs...)
}

// Watch checks the files every interval (a change seen on disk) and on
// SIGHUP, until ctx ends.
func (w *Watcher) Watch(ctx context.Context, interval time.Duration) {
	if w == nil {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(interval)
	defer t.Stop()
	for ctx.Err() == nil {
		// A signal checks every file; a tick those whose stamp changed.
		all := false
		select {
		case <-ctx.Done():
			continue
		case <-t.C:
		case <-hup:
			all = true
		}
		w.Pass(all)
	}
}

// Pass checks the watched files that changed (every one when all) and
// records their new versions; it returns the entries it added.
func (w *Watcher) Pass(all bool) []changelog.Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	var added []changelog.Entry
	for _, f := range w.files {
		if e, ok := w.look(f, all); ok {
			added = append(added, e)
		}
	}
	w.alertNew()
	return added
}

// look records f's version when it changed since the last look.
func (w *Watcher) look(f File, all bool) (changelog.Entry, bool) {
	st, err := statOf(f.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.log.Error("change log: cannot look at a watched file", "file", f.Name, "err", err)
		return changelog.Entry{}, false
	}
	if prev, ok := w.stamps[f.Name]; ok && prev == st && !all {
		return changelog.Entry{}, false
	}
	w.stamps[f.Name] = st
	data, exists, err := readFile(f.Path)
	if err != nil {
		w.unreadable(f, st, err)
		return changelog.Entry{}, false
	}
	delete(w.unread, f.Name)
	if !exists {
		if _, ok, _ := w.store.Latest(f.Name); !ok {
			return changelog.Entry{}, false // never there: nothing to record
		}
	}
	problems := f.Check(f.Path, data)
	check := "ok"
	if len(problems) > 0 {
		check = strings.Join(problems, "\n")
	}
	who := w.who
	if who == "" {
		who = changelog.FileOwner(f.Path)
	}
	e, added, err := w.store.Record(changelog.Version{File: f.Name, Data: data, Who: who,
		Applied: len(problems) == 0, Check: check, Redact: f.Redact})
	if err != nil {
		w.log.Error("change log: cannot record a version", "file", f.Name, "dir", w.store.Dir(), "err", err)
		return changelog.Entry{}, false
	}
	if added {
		w.logEntry(f, e)
	}
	return e, added
}

// unreadable notes a changed file the server cannot read: root's config
// file, checked and recorded by `postern reload` instead.
func (w *Watcher) unreadable(f File, st stamp, err error) {
	if !f.Config {
		w.log.Error("change log: cannot read a watched file", "file", f.Name, "err", err)
		return
	}
	// Recorded by root after this version was written: checked.
	if e, ok, _ := w.store.Latest(f.Name); ok && !e.Time.Before(st.mod.Truncate(time.Second)) {
		delete(w.unread, f.Name)
		return
	}
	if _, ok := w.unread[f.Name]; !ok {
		w.log.Warn("config file changed; the server cannot read it to check it: run postern reload as root",
			"file", f.Name, "err", err)
	}
	w.unread[f.Name] = fmt.Sprintf("%s changed on disk and is not checked yet (the server cannot read it): run `postern reload` as root before restarting", f.Name)
}

func (w *Watcher) logEntry(f File, e changelog.Entry) {
	switch {
	case !e.Applied:
		w.log.Error("change rejected; the running version stays", "change", e.N, "file", e.File, "who", e.Who,
			"check", firstLine(e.Check))
	case f.Config:
		w.log.Info("config change checked: it takes effect at the next restart", "change", e.N, "file", e.File, "who", e.Who)
	default:
		w.log.Info("change recorded and applied", "change", e.N, "file", e.File, "who", e.Who, "kind", e.Kind)
	}
}

// alertNew alerts on every rejected entry newer than the last pass,
// whoever recorded it (the server or root's postern reload).
func (w *Watcher) alertNew() {
	if w.store.Newest() <= w.seen {
		return
	}
	list, err := w.store.List()
	if err != nil || len(list) == 0 {
		return
	}
	for i := len(list) - 1; i >= 0; i-- {
		e := list[i]
		if e.N <= w.seen || e.Applied {
			continue
		}
		if w.alert != nil {
			full, _ := w.store.Get(e.N)
			w.alert.Notice(context.Background(), "change-rejected", "change rejected: "+e.File,
				fmt.Sprintf("Change %d of %s (by %s) failed its check and was not applied;\nthe running version stays.\n\n%s\n\n%s\n%s",
					e.N, e.File, e.Who, e.Check, "See it with: postern changes show "+fmt.Sprint(e.N), full.Diff))
		}
	}
	w.seen = list[0].N
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
