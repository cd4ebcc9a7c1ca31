package history

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/atomicfile"
)

// DamagedSuffix marks a file moved aside because it did not read.
const DamagedSuffix = ".damaged-"

// Open reads the store in dir (made when missing). It never fails: mail
// matters more than plots. A damaged file is moved aside (FileName +
// DamagedSuffix + the time) with a warning that names it and the fix,
// and the store starts empty; a file that cannot be read at all is
// logged and left alone, and the store keeps its figures in memory.
func Open(dir string, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{dir: dir, log: log, series: map[string]*series{}, users: map[string]int{}}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.problem(fmt.Sprintf("history directory %s: %v (run postern set-permissions, or make it writable by the server's user)", dir, err))
		return s
	}
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s
	}
	if err != nil {
		s.problem(fmt.Sprintf("history file %s: %v (run postern set-permissions to give it to the server's user)", path, err))
		return s
	}
	m, err := decode(b)
	if err != nil {
		aside := path + DamagedSuffix + time.Now().UTC().Format("20060102T150405Z")
		if rerr := os.Rename(path, aside); rerr != nil {
			s.problem(fmt.Sprintf("history file %s is damaged (%v) and could not be moved aside: %v; remove it by hand", path, err, rerr))
			return s
		}
		s.problem(fmt.Sprintf("history file %s was damaged (%v): moved aside to %s, the plots start empty; remove %s once you no longer need it", path, err, aside, aside))
		return s
	}
	s.series = m
	for k := range m {
		if p, u, ok := userSeries(k); ok && u != Host && u != Others {
			s.users[p]++
		}
	}
	return s
}

func (s *Store) problem(p string) {
	s.problems = append(s.problems, p)
	s.log.Warn("history: " + p)
}

// Save samples the gauges and writes the store: a temporary file,
// fsync, rename, fsync of the directory.
func (s *Store) Save() error {
	s.mu.Lock()
	gauges := s.gauges
	s.mu.Unlock()
	for _, f := range gauges {
		f(s.Set)
	}
	s.mu.Lock()
	s.prune(s.now().Unix() / 3600)
	b := encode(s.series)
	s.mu.Unlock()
	return atomicfile.WriteFile(filepath.Join(s.dir, FileName), b, 0o600)
}

// Run saves the store at once, then every minute and when ctx ends. A
// failed save is logged once, until one succeeds again.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		s.saveLogged()
		select {
		case <-ctx.Done():
			s.saveLogged()
			return
		case <-t.C:
		}
	}
}

func (s *Store) saveLogged() {
	err := s.Save()
	switch {
	case err != nil && !s.saveErr:
		s.log.Error("history not saved; the console's plots lose what is not saved at the next restart",
			"dir", s.dir, "err", err, "fix", "make the directory writable by the server's user (postern set-permissions)")
	case err == nil && s.saveErr:
		s.log.Info("history saved again", "dir", s.dir)
	}
	s.saveErr = err != nil
}

// CheckDir is postern check's view of the store in dir: a file that does
// not read, and damaged files moved aside that are still there.
func CheckDir(dir string) []string {
	var out []string
	path := filepath.Join(dir, FileName)
	if b, err := os.ReadFile(path); err == nil {
		if _, err := decode(b); err != nil {
			out = append(out, fmt.Sprintf("history file %s is damaged (%v): the server moves it aside at its next start and the console's plots start empty", path, err))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		out = append(out, fmt.Sprintf("history file %s: %v (run postern set-permissions)", path, err))
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), FileName+DamagedSuffix) {
			p := filepath.Join(dir, e.Name())
			out = append(out, fmt.Sprintf("history file %s was damaged and moved aside by the server (the plots lost the history before); remove it to clear this problem", p))
		}
	}
	return out
}

// prune drops the series that hold nothing any more (no bucket in the 90
// days of hours), so that users gone quiet make room for others under
// MaxUsers. s.mu is held.
func (s *Store) prune(hour int64) {
	for k, x := range s.series {
		if x.hour.last > hour-hours {
			continue
		}
		delete(s.series, k)
		if p, u, ok := userSeries(k); ok && u != Host && u != Others {
			s.users[p]--
		}
	}
}
