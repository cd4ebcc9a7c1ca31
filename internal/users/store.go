// Package users keeps the SMTP AUTH users, who are also the owners of the
// local mailboxes: a file of "address:hash" lines, mode 0600, with
// argon2id hashes (bcrypt hashes are accepted too).
//
// A running server sees changes made by another process (postern user
// add): the Store looks at the file at most once a second and reloads it
// when it changed, keeping the old data when the new file is bad.
//
// For a fleet of servers the users can be rows of a database table
// instead (Options.Remote, remote.go; internal/pgusers), read whole every
// refresh and checked with the same hash rules (rows.go).
package users

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Owner is a uid and gid for the users file, for when an administrator
// running as root edits the file of a server that runs as another user.
type Owner struct{ UID, GID int }

// Options tune a Store; the zero value is fine.
type Options struct {
	Log *slog.Logger // where failed reloads are reported; nil: slog.Default()
	// Owner, when set, owns the file after every rewrite.
	Owner *Owner
	// MaxConcurrentHashes bounds the password hashes computed at once
	// (each takes 19 MiB); 0 means the number of CPUs.
	MaxConcurrentHashes int
	// CheckInterval is how often the file is looked at; 0 means 1s.
	CheckInterval time.Duration
	// Remote, when set, holds the users instead of the file (remote.go).
	Remote *RemoteOptions
}

// ErrExists and ErrNotFound are returned by Add, Passwd and Del.
var (
	ErrExists   = errors.New("user already exists")
	ErrNotFound = errors.New("no such user")
)

// Store is the users file and its parsed content; safe for concurrent use.
type Store struct {
	path  string
	opt   Options
	sem   chan struct{}
	dummy string // hash verified for unknown users, to spend the same time

	mu      sync.Mutex
	users   map[string]string // normalised address -> hash
	stamp   stamp
	checked time.Time
	// lastErr is why the latest read failed (nil when it succeeded);
	// failures counts failed reads since the store was opened.
	lastErr    error
	statFailed bool // lastErr came from stat: read again once stat works
	failures   uint64
	// good is when a Remote was last read (zero: never, or stale), stop
	// ends its reads (remote.go).
	good time.Time
	stop chan struct{}
}

// stamp identifies one version of the file.
type stamp struct {
	exists     bool
	dev, ino   uint64
	size       int64
	mtime      time.Time
	ctimeNanos int64
}

func stampOf(fi fs.FileInfo) stamp {
	s := stamp{exists: true, size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
		s.ctimeNanos = st.Ctim.Nano()
	}
	return s
}

// Open reads the users file at path; a missing file is an empty store.
func Open(path string) (*Store, error) { return OpenOptions(path, Options{}) }

// OpenOptions is Open with options.
func OpenOptions(path string, opt Options) (*Store, error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.MaxConcurrentHashes <= 0 {
		opt.MaxConcurrentHashes = runtime.NumCPU()
	}
	if opt.CheckInterval <= 0 {
		opt.CheckInterval = time.Second
	}
	dummy, err := Hash("postern dummy password for unknown users")
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, opt: opt, sem: make(chan struct{}, opt.MaxConcurrentHashes), dummy: dummy}
	if opt.Remote != nil {
		s.users = map[string]string{}
		openRemote(s)
		return s, nil
	}
	lines, st, err := readFile(path)
	if err != nil {
		return nil, err
	}
	s.set(lines, st)
	s.checked = time.Now()
	return s, nil
}

// readFile reads and parses path; a missing file is empty.
func readFile(path string) ([]line, stamp, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, stamp{}, nil
	}
	if err != nil {
		return nil, stamp{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, stamp{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, stamp{}, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, stamp{}, err
	}
	if len(data) > maxFileSize {
		return nil, stamp{}, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	lines, err := parse(path, data)
	return lines, stampOf(fi), err
}

// set installs parsed lines; s.mu must be held (or s not yet shared).
func (s *Store) set(lines []line, st stamp) {
	users := make(map[string]string, len(lines))
	for _, l := range lines {
		if l.addr != "" {
			users[l.addr] = l.hash
		}
	}
	s.users, s.stamp = users, st
}

// refresh reloads the file when it changed, at most once per interval.
func (s *Store) refresh() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opt.Remote != nil {
		s.expireLocked()
		return s.users
	}
	now := time.Now()
	if now.Sub(s.checked) < s.opt.CheckInterval {
		return s.users
	}
	s.checked = now
	var st stamp
	fi, err := os.Stat(s.path)
	switch {
	case err == nil:
		st = stampOf(fi)
	case !errors.Is(err, fs.ErrNotExist):
		if s.lastErr == nil || s.lastErr.Error() != err.Error() {
			s.opt.Log.Error("users file unreadable, keeping the users loaded before", "file", s.path, "err", err)
			s.failures++
		}
		s.lastErr, s.statFailed = err, true
		return s.users
	}
	if st == s.stamp && !s.statFailed {
		return s.users
	}
	s.reloadLocked()
	return s.users
}

func (s *Store) reloadLocked() error {
	s.statFailed = false
	lines, st, err := readFile(s.path)
	if err != nil {
		s.opt.Log.Error("users file not reloaded, keeping the users loaded before", "file", s.path, "err", err)
		if fi, serr := os.Stat(s.path); serr == nil {
			s.stamp = stampOf(fi) // do not retry until it changes again
		}
		s.lastErr = err
		s.failures++
		return err
	}
	s.lastErr = nil
	s.set(lines, st)
	s.opt.Log.Info("users file reloaded", "file", s.path, "users", len(s.users))
	return nil
}

// LoadError returns why the latest read of the file failed (the users
// loaded before stay in force), or nil, and how many reads failed since
// the store was opened.
func (s *Store) LoadError() (error, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr, s.failures
}

// Reload reads the file now (for SIGHUP); on error the old data stays.
func (s *Store) Reload() error {
	if s.opt.Remote != nil {
		s.fetchRemote()
		err, _ := s.LoadError()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked = time.Now()
	return s.reloadLocked()
}

// Exists reports whether addr is a user (and so owns a local mailbox).
func (s *Store) Exists(addr string) bool {
	a, err := Normalize(addr)
	if err != nil {
		return false
	}
	_, ok := s.refresh()[a]
	return ok
}

// List returns the users' addresses, sorted.
func (s *Store) List() []string {
	users := s.refresh()
	out := make([]string, 0, len(users))
	for a := range users {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Verify reports whether password is addr's password. It takes the same
// time whether or not the user exists, and compares in constant time.
func (s *Store) Verify(addr, password string) bool {
	h, ok := "", false
	if a, err := Normalize(addr); err == nil {
		h, ok = s.refresh()[a]
	}
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	if !ok || !usable(h) {
		// Unknown, suspended and revoked users take as long as others.
		verifyHash(s.dummy, password)
		return false
	}
	return verifyHash(bare(h), password)
}

// Where names where the users are: the file, or the table.
func (s *Store) Where() string {
	if s.opt.Remote != nil {
		return s.opt.Remote.Remote.Where()
	}
	return s.path
}

// Add adds a user; it fails with ErrExists when addr is already one.
func (s *Store) Add(addr, password string) error {
	return s.withPassword(addr, password, func(a, h, old string, ok bool) (string, bool, error) {
		if ok {
			return "", false, fmt.Errorf("%s: %w", a, ErrExists)
		}
		return h, true, nil
	})
}

// Passwd sets a user's password; ErrNotFound when addr is not a user.
func (s *Store) Passwd(addr, password string) error {
	return s.withPassword(addr, password, func(a, h, old string, ok bool) (string, bool, error) {
		if !ok {
			return "", false, fmt.Errorf("%s: %w", a, ErrNotFound)
		}
		// A new password lifts neither a suspension nor the admin role.
		p, _ := marks(old)
		return p + h, true, nil
	})
}

// withPassword hashes password and updates addr with fn, given the new
// hash and the user's hash field.
func (s *Store) withPassword(addr, password string, fn func(a, h, old string, ok bool) (string, bool, error)) error {
	a, err := Normalize(addr)
	if err != nil {
		return err
	}
	h, err := Hash(password)
	if err != nil {
		return err
	}
	return s.update(a, func(old string, ok bool) (string, bool, error) { return fn(a, h, old, ok) })
}

// Del removes a user; ErrNotFound when addr is not a user.
func (s *Store) Del(addr string) error {
	a, err := Normalize(addr)
	if err != nil {
		return err
	}
	return s.update(a, func(_ string, ok bool) (string, bool, error) {
		if !ok {
			return "", false, fmt.Errorf("%s: %w", a, ErrNotFound)
		}
		return "", false, nil
	})
}

// updateFunc is given a user's hash field (ok false: no such user) and
// returns the new one, or keep false to remove the user.
type updateFunc func(h string, ok bool) (field string, keep bool, err error)

// update changes one user (a, normalized), in the table or the file.
func (s *Store) update(a string, fn updateFunc) error {
	if s.opt.Remote != nil {
		return s.updateRemote(a, fn)
	}
	return s.modify(func(lines []line) ([]line, error) {
		i := 0
		for i < len(lines) && lines[i].addr != a {
			i++
		}
		found := i < len(lines)
		old := ""
		if found {
			old = lines[i].hash
		}
		h, keep, err := fn(old, found)
		switch {
		case err != nil:
			return nil, err
		case found && keep:
			lines[i].hash = h
		case found:
			lines = append(lines[:i], lines[i+1:]...)
		case keep:
			lines = append(lines, line{addr: a, hash: h})
		}
		return lines, nil
	})
}

// modify rewrites the file under an exclusive lock (users.lock beside it)
// so that two editors never lose each other's change: it reads the file
// afresh, applies fn and replaces the file atomically.
func (s *Store) modify(fn func([]line) ([]line, error)) error {
	lock, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if s.opt.Owner != nil {
		if err := lock.Chown(s.opt.Owner.UID, s.opt.Owner.GID); err != nil {
			return err
		}
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	lines, _, err := readFile(s.path)
	if err != nil {
		return err
	}
	lines, err = fn(lines)
	if err != nil {
		return err
	}
	if err := writeFile(s.path, format(lines), s.opt.Owner); err != nil {
		return err
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.set(lines, stampOf(fi))
	s.mu.Unlock()
	return nil
}
