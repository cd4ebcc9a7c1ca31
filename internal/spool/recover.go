package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"postern/internal/envelope"
)

// recover loads the queue directory at start-up. It runs in New, before
// any Writer exists, so every temporary file found belongs to a message
// that was never committed (its sender got no 250) and is removed.
func (s *Spool) recover() error {
	names, err := readDirNames(s.qdir)
	if err != nil {
		return err
	}
	msgs := map[string]bool{}
	var states []string
	removed := 0
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, tmpSuffix):
			if err := os.Remove(filepath.Join(s.qdir, name)); err != nil && !os.IsNotExist(err) {
				return err
			}
			removed++
		case strings.HasSuffix(name, stateSuffix):
			states = append(states, strings.TrimSuffix(name, stateSuffix))
		case validID(name):
			msgs[name] = true
		default:
			s.log.Warn("unknown file in queue directory, left alone", "path", filepath.Join(s.qdir, name))
		}
	}
	for _, id := range states {
		if !msgs[id] {
			// The message is gone (delivered, then its state was still
			// to be removed when the process stopped).
			if err := os.Remove(s.statePath(id)); err != nil && !os.IsNotExist(err) {
				return err
			}
			removed++
		}
	}
	if removed > 0 {
		if err := syncDir(s.qdir); err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(msgs))
	for id := range msgs {
		ids = append(ids, id)
	}
	sort.Strings(ids) // ids sort by age
	now := time.Now()
	for _, id := range ids {
		it, err := s.load(id)
		var ce *corruptError
		if errors.As(err, &ce) {
			s.moveCorrupt(id, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("queue file %s: %w", id, err)
		}
		if it == nil {
			continue
		}
		it.recovered = true
		if it.next.Before(now) {
			it.next = now
		}
		s.items[id] = it
		if !it.held {
			s.waiting.push(it)
		}
	}
	if len(ids) > 0 || removed > 0 {
		s.log.Info("spool recovered", "dir", s.dir, "queued", len(s.items), "removed", removed)
	}
	return nil
}

// load reads one queue file and its state. It returns a nil item (and
// removes the files) for a message with nothing left to deliver.
func (s *Spool) load(id string) (*item, error) {
	f, err := os.Open(s.msgPath(id))
	if err != nil {
		return nil, err
	}
	env, _, err := readHeader(f, id)
	if err == nil && env.Received.IsZero() {
		// Not written by Commit, which always sets it: use the file time
		// so that the lifetime still runs.
		if fi, serr := f.Stat(); serr == nil {
			env.Received = fi.ModTime()
		}
	}
	f.Close()
	if err != nil {
		return nil, err
	}
	st, hasState, err := readState(s.statePath(id), len(env.Rcpts))
	if err != nil {
		return nil, err
	}
	it := &item{
		env:      env,
		final:    make([]bool, len(env.Rcpts)),
		attempts: st.attempts,
		lastErr:  st.lastErr,
		next:     st.next,
		hasState: hasState,
		held:     st.held(env.Hold),
		heapIdx:  -1,
	}
	pending := 0
	for i := range it.final {
		it.final[i] = st.delivered[i] || hasKey(st.failed, i)
		if !it.final[i] {
			pending++
		}
	}
	if pending == 0 {
		s.log.Info("message complete, removed at recovery", "id", id)
		s.remove(it)
		return nil, nil
	}
	return it, nil
}

// moveCorrupt moves a queue file (and its state) to the corrupt directory
// for the admin to look at; it is never silently dropped.
func (s *Spool) moveCorrupt(id string, why error) {
	dst := filepath.Join(s.cdir, id)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); os.IsNotExist(err) {
			break
		}
		dst = filepath.Join(s.cdir, fmt.Sprintf("%s.%d", id, i))
	}
	err := os.Rename(s.msgPath(id), dst)
	if err == nil {
		if serr := os.Rename(s.statePath(id), dst+stateSuffix); serr != nil && !os.IsNotExist(serr) {
			s.log.Warn("moving state of corrupt queue file", "id", id, "err", serr)
		}
		err = syncDir(s.cdir)
		if err == nil {
			err = syncDir(s.qdir)
		}
	}
	if err != nil {
		s.log.Error("corrupt queue file could not be moved aside", "id", id, "reason", why, "err", err)
		return
	}
	s.log.Error("corrupt queue file moved aside", "id", id, "reason", why, "path", dst)
}

// readDirNames lists a directory.
func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// List reads the queue at dir (the spool directory given to New) without
// changing anything, for `postern queue list`; a server may be running on
// it. Items come oldest first. A queue file that cannot be read is listed
// with the reason in LastError.
func List(dir string) ([]Item, error) {
	qdir := filepath.Join(dir, "queue")
	names, err := readDirNames(qdir)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var items []Item
	for _, id := range names {
		if !validID(id) {
			continue
		}
		it, err := listOne(qdir, id)
		if errors.Is(err, os.ErrNotExist) {
			continue // delivered while we looked
		}
		if err != nil {
			items = append(items, Item{ID: id, LastError: "unreadable queue file: " + err.Error()})
			continue
		}
		items = append(items, it)
	}
	return items, nil
}

// ListCorrupt returns the paths of the files that the spool at dir has
// set aside as corrupt, for the admin to look at.
func ListCorrupt(dir string) ([]string, error) {
	cdir := filepath.Join(dir, "corrupt")
	names, err := readDirNames(cdir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(cdir, n)
	}
	return paths, nil
}

func listOne(qdir, id string) (Item, error) {
	f, err := os.Open(filepath.Join(qdir, id))
	if err != nil {
		return Item{}, err
	}
	env, _, err := readHeader(f, id)
	f.Close()
	if err != nil {
		return Item{}, err
	}
	st, _, err := readState(filepath.Join(qdir, id+stateSuffix), len(env.Rcpts))
	if err != nil {
		return Item{}, err
	}
	it := makeItem(env, func(i int) bool { return st.delivered[i] || hasKey(st.failed, i) },
		st.attempts, st.lastErr, st.next)
	it.Held = st.held(env.Hold)
	return it, nil
}

func hasKey(m map[int]string, k int) bool {
	_, ok := m[k]
	return ok
}

// Item describes one queued message.
type Item struct {
	ID          string    `json:"id"`
	Arrived     time.Time `json:"arrived"`
	Size        int64     `json:"size"`
	From        string    `json:"from"`  // "" for the null sender
	Rcpts       []string  `json:"rcpts"` // recipients still to be delivered
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"` // zero: as soon as possible
	Held        bool      `json:"held,omitempty"`        // not delivered until released
}

func makeItem(env *envelope.Envelope, final func(int) bool, attempts int, lastErr string, next time.Time) Item {
	it := Item{
		ID: env.ID, Arrived: env.Received, Size: env.Size, From: env.From,
		Attempts: attempts, LastError: lastErr, NextAttempt: next,
	}
	for i, r := range env.Rcpts {
		if !final(i) {
			it.Rcpts = append(it.Rcpts, r.Addr)
		}
	}
	return it
}
