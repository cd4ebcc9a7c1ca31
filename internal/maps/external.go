package maps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Fetcher reads maps kept outside maps_dir (an LDAP directory), giving
// each in its file's text format so that the same parser reads it.
type Fetcher interface {
	Fetch(ctx context.Context, file string) ([]byte, error)
	// Where names file's source in messages.
	Where(file string) string
}

// External says which maps a Fetcher serves and how long a copy holds.
type External struct {
	Fetcher Fetcher
	// Files are the map files it serves instead of maps_dir.
	Files []string
	// Refresh is how often each map is read again.
	Refresh time.Duration
	// Stale is how long the last copy serves when a read fails; after
	// it the map is unavailable and every decision that needs it waits.
	Stale time.Duration
	// Timeout bounds one read.
	Timeout time.Duration
	// Observe, when set, is told of every copy read (text, and whether it
	// failed to parse), for the change log; nil: nobody is told.
	Observe func(file, where string, text []byte, parseErr error)
}

// externals are the sources of a Set's external maps.
type externals []*External

// of returns the source that serves file, or nil.
func (xs externals) of(file string) *External {
	for _, e := range xs {
		if e != nil && slices.Contains(e.Files, file) {
			return e
		}
	}
	return nil
}

func (xs externals) serves(file string) bool { return xs.of(file) != nil }

// retryFailed is how soon a failed read of an external map is tried
// again.
const retryFailed = 10 * time.Second

// fetchState is one external map's record of reads.
type fetchState struct {
	tried, good time.Time // last attempt, last success (zero: never)
}

// Unavailable is an external map that could not be read for longer than
// its stale period, with why.
type Unavailable struct {
	File, Reason string
}

// Unavailable lists the maps that cannot be used now. A decision that
// needs one must wait (4xx), never go on without it: the map's entries
// are gone from m, so an access REJECT or a user would be missing.
func (m *Maps) Unavailable() []Unavailable {
	if m == nil {
		return nil
	}
	return m.unavailable
}

// UnavailableText says in one line which maps are unavailable and why,
// or "" when all are in force.
func (m *Maps) UnavailableText() string {
	var parts []string
	for _, u := range m.Unavailable() {
		parts = append(parts, u.File+" ("+u.Reason+")")
	}
	return strings.Join(parts, "; ")
}

func (m *Maps) setUnavailable(file, reason string) {
	m.unavailable = append(slices.DeleteFunc(slices.Clone(m.unavailable), func(u Unavailable) bool { return u.File == file }),
		Unavailable{File: file, Reason: reason})
}

func (m *Maps) setAvailable(file string) {
	m.unavailable = slices.DeleteFunc(slices.Clone(m.unavailable), func(u Unavailable) bool { return u.File == file })
}

// externalDue lists the external maps whose refresh time has come.
func (s *Set) externalDue(now time.Time) []string {
	var due []string
	for _, f := range FileNames() {
		e := s.ext.of(f)
		if e == nil {
			continue
		}
		every := e.Refresh
		if s.errs[f] != nil {
			every = min(every, retryFailed) // a failed read is tried again soon
		}
		if now.Sub(s.fetched[f].tried) >= every {
			due = append(due, f)
		}
	}
	return due
}

// fetch reads external map f into next. On failure the previous copy
// (from old) stays while it is younger than the stale period; then the
// map is emptied and marked unavailable. s.mu is held.
func (s *Set) fetch(next, old *Maps, f, why string) error {
	e := s.ext.of(f)
	now := time.Now()
	st := s.fetched[f]
	st.tried = now
	err := e.read(next, f)
	if err == nil {
		st.good = now
		s.fetched[f] = st
		next.setAvailable(f)
		if s.errs[f] != nil || why != "change" {
			s.log.Info("map loaded", "map", f, "from", e.Fetcher.Where(f), "why", why, "entries", next.size(f))
		}
		delete(s.errs, f)
		return nil
	}
	s.fetched[f] = st
	s.errs[f] = err
	s.failures[f]++
	if !st.good.IsZero() && now.Sub(st.good) < e.Stale {
		copyField(next, old, f)
		s.log.Error("map not read; previous copy kept", "map", f, "why", why, "copy_age", now.Sub(st.good).Round(time.Second).String(),
			"stale_after", e.Stale.String(), "err", err)
		return err
	}
	copyField(next, &Maps{}, f)
	wasDown := slices.ContainsFunc(old.unavailable, func(u Unavailable) bool { return u.File == f })
	next.setUnavailable(f, err.Error())
	if s.onDown != nil && !wasDown {
		s.onDown(f, e.Fetcher.Where(f), err.Error())
	}
	s.log.Error("map unavailable: mail that needs it is deferred (4xx) until it can be read", "map", f, "why", why, "err", err)
	return err
}

// fileErrors keeps, of a load's errors, those of maps_dir's files: an
// external map that cannot be read is unavailable, not a reason to stop.
func (s *Set) fileErrors(err error) error {
	if err == nil || len(s.ext) == 0 {
		return err
	}
	var keep []error
	for _, f := range FileNames() {
		if e := s.errs[f]; e != nil && !s.ext.serves(f) {
			keep = append(keep, e)
		}
	}
	return errors.Join(keep...)
}

// LoadExternal reads every map once as OpenExternal would, for `postern
// check`: the external maps' read errors are returned with the files'.
func LoadExternal(dir string, ext ...*External) (*Maps, error) {
	m := &Maps{}
	var errs []error
	for _, f := range FileNames() {
		e := externals(ext).of(f)
		if e == nil {
			if _, err := readMap(m, dir, f); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := e.read(m, f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
		}
	}
	return m, errors.Join(errs...)
}

// read fetches file and parses it into m.
func (e *External) read(m *Maps, file string) error {
	ctx, cancel := context.WithTimeout(context.Background(), e.Timeout)
	defer cancel()
	data, err := e.Fetcher.Fetch(ctx, file)
	if err != nil {
		return err
	}
	err = parseInto(m, file, e.Fetcher.Where(file), bytes.NewReader(data))
	if e.Observe != nil {
		e.Observe(file, e.Fetcher.Where(file), data, err)
	}
	return err
}

// OnUnavailable sets what to tell (an alert) when a map from a shared
// source becomes unavailable: the map, its source and why. Set it before
// Watch starts.
func (s *Set) OnUnavailable(f func(file, where, reason string)) {
	s.mu.Lock()
	s.onDown = f
	s.mu.Unlock()
}
