package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	now := s.now()
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
		switch {
		case it.held:
		case it.flushReq:
			// `postern queue flush` asked for it while no server ran.
			s.ready[s.laneOf(it)] = append(s.ready[s.laneOf(it)], it)
		default:
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
		warned:   st.warned,
		flushReq: st.flushWanted(),
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
		if err := s.remove(it); err != nil {
			return nil, err
		}
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
