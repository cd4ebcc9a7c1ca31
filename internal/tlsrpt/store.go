package tlsrpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Store counts the sessions of each UTC day. The current day's counts
// are in memory and written to dir/YYYY-MM-DD.json (whole, then renamed
// over the old file) by Flush and when the day changes; earlier days are
// read from their files when reported. Record is safe for concurrent
// use.
type Store struct {
	dir string
	log *slog.Logger
	lim Limits
	now func() time.Time

	mu    sync.Mutex
	date  string // the day of cur, 2006-01-02
	cur   *Day
	dirty bool // cur changed since it was written
}

// StoreOptions configure a Store.
type StoreOptions struct {
	Limits Limits
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

const (
	dayFormat = "2006-01-02"
	dayExt    = ".json"
)

// OpenStore opens (creating) the store in dir. Every day file in it is
// read: one that cannot be is an error naming it, for the counts would
// otherwise be written over.
func OpenStore(dir string, log *slog.Logger, opt StoreOptions) (*Store, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("TLS report store: %w", err)
	}
	s := &Store{dir: dir, log: log, lim: opt.Limits.withDefaults(), now: opt.Now}
	// Left by a crash in the middle of a write: the day file is whole.
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(tmps) > 0 {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	s.date = s.now().UTC().Format(dayFormat)
	cur, err := s.readAll(s.date)
	if err != nil {
		return nil, err
	}
	s.cur = cur
	if s.cur == nil {
		s.cur = newDay()
	}
	return s, nil
}

// CheckStore reads the store in dir as OpenStore does, and changes
// nothing (for postern check): the error is the one that would stop
// OpenStore. A dir that does not exist yet is fine: OpenStore makes it.
func CheckStore(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	s := &Store{dir: dir}
	_, err := s.readAll("")
	return err
}

// readAll reads every day file, and returns the counts of the day keep
// (nil when it has none).
func (s *Store) readAll(keep string) (*Day, error) {
	dates, err := s.days()
	if err != nil {
		return nil, fmt.Errorf("TLS report store: %w", err)
	}
	var kept *Day
	for _, date := range dates {
		d, err := s.read(date)
		if err != nil {
			return nil, err
		}
		if date == keep {
			kept = d
		}
	}
	return kept, nil
}

// Record counts one session in the day of its Time (the current day for
// one that comes late, just after midnight). Sessions without a policy
// domain are not counted.
func (s *Store) Record(sess Session) {
	if sess.Policy.Domain == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roll(sess.Time)
	s.cur.add(sess, s.lim)
	s.dirty = true
}

// roll writes the current day's counts away when t is on a later day,
// and starts that day's.
func (s *Store) roll(t time.Time) {
	date := t.UTC().Format(dayFormat)
	if date <= s.date {
		return
	}
	if err := s.writeLocked(); err != nil {
		s.log.Error("TLS report counts not saved; that day's reports lose them", "day", s.date, "err", err)
	}
	s.date, s.cur, s.dirty = date, newDay(), false
}

// Flush writes the current day's counts when they changed, after
// starting a new day when the clock has passed midnight.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roll(s.now())
	return s.writeLocked()
}

// Close writes what is not written yet.
func (s *Store) Close() error { return s.Flush() }

func (s *Store) writeLocked() error {
	if !s.dirty {
		return nil
	}
	data, err := json.Marshal(s.cur)
	if err != nil {
		return err
	}
	if err := replaceFile(s.path(s.date), data); err != nil {
		return err
	}
	s.dirty = false
	return nil
}

// replaceFile puts data at path whole or not at all: a temporary file in
// the same directory, synced, renamed over path, and the directory
// synced.
func replaceFile(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o640); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

func (s *Store) path(date string) string { return filepath.Join(s.dir, date+dayExt) }

// days lists the dates of the day files, oldest first.
func (s *Store) days() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		date, ok := strings.CutSuffix(e.Name(), dayExt)
		if _, err := time.Parse(dayFormat, date); ok && err == nil && e.Type().IsRegular() {
			out = append(out, date)
		}
	}
	sort.Strings(out)
	return out, nil
}

// read loads one day file.
func (s *Store) read(date string) (*Day, error) {
	path := s.path(date)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("TLS report store: %w", err)
	}
	d := newDay()
	if err := json.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("TLS report store %s: %w", path, err)
	}
	if err := d.reindex(); err != nil {
		return nil, fmt.Errorf("TLS report store %s: %w", path, err)
	}
	return d, nil
}

// Days returns the days that have counts on disk, oldest first, each as
// its midnight UTC.
func (s *Store) Days() ([]time.Time, error) {
	dates, err := s.days()
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, len(dates))
	for _, d := range dates {
		t, _ := time.Parse(dayFormat, d)
		out = append(out, t)
	}
	return out, nil
}

// Load reads the counts of the day that begins at day (midnight UTC), as
// last written.
func (s *Store) Load(day time.Time) (*Day, error) {
	return s.read(day.UTC().Format(dayFormat))
}

// Prune removes the files of the days before the one of before.
func (s *Store) Prune(before time.Time) error {
	dates, err := s.days()
	if err != nil {
		return err
	}
	cutoff := before.UTC().Format(dayFormat)
	var errs []error
	for _, d := range dates {
		if d < cutoff {
			if err := os.Remove(s.path(d)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
