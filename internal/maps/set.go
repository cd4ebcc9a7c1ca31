package maps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// File names inside maps_dir, as in /etc/mail.
const (
	FileAccess         = "access"
	FileRelayDomains   = "relay-domains"
	FileLocalHostNames = "local-host-names"
	FileAliases        = "aliases"
	FileVirtusertable  = "virtusertable"
	FileGenericstable  = "genericstable"
	FileMailertable    = "mailertable"
	FileSenderLogin    = "sender-login"
)

// FileNames lists the map files a Set reads, in load order.
func FileNames() []string {
	return []string{FileAccess, FileRelayDomains, FileLocalHostNames, FileAliases,
		FileVirtusertable, FileGenericstable, FileMailertable, FileSenderLogin}
}

// maxMapBytes bounds one map file.
const maxMapBytes = 64 << 20

// Maps is one consistent version of every map. A missing file gives an
// empty map; every lookup method is safe on an empty (nil) map.
type Maps struct {
	Access         *Access
	RelayDomains   *DomainList
	LocalHostNames *DomainList
	Aliases        *Aliases
	Virtusertable  *Virtusertable
	Genericstable  *Genericstable
	Mailertable    *Mailertable
	SenderLogin    *SenderLogin

	// unavailable lists the maps from a directory or database that could
	// not be read for longer than their stale period (external.go).
	unavailable []Unavailable
}

// Warnings lists dangerous or ignored entries of every map.
func (m *Maps) Warnings() []Warning {
	if m == nil {
		return nil
	}
	var out []Warning
	out = append(out, m.Access.Warnings()...)
	out = append(out, m.RelayDomains.Warnings()...)
	out = append(out, m.LocalHostNames.Warnings()...)
	return out
}

// parseInto parses one file into its field of m.
func parseInto(m *Maps, file, path string, r io.Reader) error {
	var err error
	switch file {
	case FileAccess:
		m.Access, err = ParseAccess(path, r)
	case FileRelayDomains:
		m.RelayDomains, err = ParseRelayDomains(path, r)
	case FileLocalHostNames:
		m.LocalHostNames, err = ParseLocalHostNames(path, r)
	case FileAliases:
		m.Aliases, err = ParseAliases(path, r)
	case FileVirtusertable:
		m.Virtusertable, err = ParseVirtusertable(path, r)
	case FileGenericstable:
		m.Genericstable, err = ParseGenericstable(path, r)
	case FileMailertable:
		m.Mailertable, err = ParseMailertable(path, r)
	case FileSenderLogin:
		m.SenderLogin, err = ParseSenderLogin(path, r)
	default:
		err = fmt.Errorf("unknown map %q", file)
	}
	return err
}

// copyField copies one file's map from src to dst.
func copyField(dst, src *Maps, file string) {
	switch file {
	case FileAccess:
		dst.Access = src.Access
	case FileRelayDomains:
		dst.RelayDomains = src.RelayDomains
	case FileLocalHostNames:
		dst.LocalHostNames = src.LocalHostNames
	case FileAliases:
		dst.Aliases = src.Aliases
	case FileVirtusertable:
		dst.Virtusertable = src.Virtusertable
	case FileGenericstable:
		dst.Genericstable = src.Genericstable
	case FileMailertable:
		dst.Mailertable = src.Mailertable
	case FileSenderLogin:
		dst.SenderLogin = src.SenderLogin
	}
}

func (m *Maps) size(file string) int {
	switch file {
	case FileAccess:
		return m.Access.Len()
	case FileRelayDomains:
		return m.RelayDomains.Len()
	case FileLocalHostNames:
		return m.LocalHostNames.Len()
	case FileAliases:
		return m.Aliases.Len()
	case FileVirtusertable:
		return m.Virtusertable.Len()
	case FileGenericstable:
		return m.Genericstable.Len()
	case FileMailertable:
		return m.Mailertable.Len()
	case FileSenderLogin:
		return m.SenderLogin.Len()
	}
	return 0
}

// stamp identifies one version of a file for change detection.
type stamp struct {
	exists bool
	mod    time.Time
	size   int64
	ino    uint64
	dev    uint64
	// ctime changes with chmod and chown too, so that repairing a file's
	// permissions makes the next poll read it again.
	ctime int64
}

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stamp{}, nil
	}
	if err != nil {
		return stamp{}, err
	}
	st := stamp{exists: true, mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino, st.dev = uint64(sys.Ino), uint64(sys.Dev)
		st.ctime = sys.Ctim.Nano()
	}
	return st, nil
}

// readMap reads one map file; a missing file is an empty map.
func readMap(m *Maps, dir, file string) (stamp, error) {
	if dir == "" { // no maps_dir: only external maps
		copyField(m, &Maps{}, file)
		return stamp{}, nil
	}
	path := filepath.Join(dir, file)
	st, err := statFile(path)
	if err != nil {
		return stamp{}, err
	}
	if !st.exists {
		copyField(m, &Maps{}, file)
		return st, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMapBytes+1))
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxMapBytes {
		return st, fmt.Errorf("%s: larger than %d bytes", path, maxMapBytes)
	}
	return st, parseInto(m, file, path, bytes.NewReader(data))
}

// Load reads every map in dir once, for `postern check`: it returns the
// maps that parsed and every error of every file at once.
func Load(dir string) (*Maps, error) {
	m := &Maps{}
	var errs []error
	for _, f := range FileNames() {
		if _, err := readMap(m, dir, f); err != nil {
			errs = append(errs, err)
		}
	}
	return m, errors.Join(errs...)
}

// Set holds the current version of every map in a directory and replaces
// them when they change. Lookups through Maps never block on a reload.
type Set struct {
	dir string
	log *slog.Logger
	cur atomic.Pointer[Maps]

	mu       sync.Mutex // serialises reloads; guards the fields below
	stamps   map[string]stamp
	errs     map[string]error  // files whose last load failed
	failures map[string]uint64 // failed loads since start, by file
	ext      externals         // maps read from elsewhere
	fetched  map[string]fetchState
	onDown   func(file, where, reason string) // OnUnavailable
}

// Open loads every map from dir (missing files are empty maps). When some
// fail to parse, the Set is still returned, with those maps empty, along
// with every error; serving with it is the caller's choice.
func Open(dir string, log *slog.Logger) (*Set, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return OpenExternal(dir, log)
}

// OpenExternal is Open with some maps read from ext instead of dir. An
// external map that cannot be read at start is not an error here: it is
// unavailable (Maps.Unavailable) until it can be, and logged.
func OpenExternal(dir string, log *slog.Logger, ext ...*External) (*Set, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Set{dir: dir, log: log, stamps: make(map[string]stamp), errs: make(map[string]error),
		failures: make(map[string]uint64), ext: ext, fetched: make(map[string]fetchState)}
	s.cur.Store(&Maps{})
	err := s.reload(FileNames(), "load")
	return s, s.fileErrors(err)
}

// Dir is the maps directory.
func (s *Set) Dir() string { return s.dir }

// Maps returns the current version of the maps. Keep the pointer for the
// length of one decision (one SMTP command) so that it sees one version.
func (s *Set) Maps() *Maps { return s.cur.Load() }

// Reload rereads every map (on SIGHUP). A map that fails to parse keeps
// its previous version in force; the errors are logged and returned.
// On a nil Set (no maps_dir) it does nothing.
func (s *Set) Reload() error {
	if s == nil {
		return nil
	}
	return s.reload(FileNames(), "reload")
}

// ReloadChanged rereads the maps whose files changed (mtime, size or
// inode) since they were last read. A file that failed to parse is tried
// again when it changes again.
func (s *Set) ReloadChanged() error {
	s.mu.Lock()
	var changed []string
	changed = s.externalDue(time.Now())
	for _, f := range FileNames() {
		if s.ext.serves(f) {
			continue
		}
		st, err := statFile(filepath.Join(s.dir, f))
		if err != nil {
			// Retry, but log a file that cannot be read only once.
			if prev := s.errs[f]; prev == nil || prev.Error() != err.Error() {
				changed = append(changed, f)
			}
			continue
		}
		if st != s.stamps[f] {
			changed = append(changed, f)
		}
	}
	s.mu.Unlock()
	if len(changed) == 0 {
		return nil
	}
	return s.reload(changed, "change")
}

// Errors returns the errors of the maps whose latest version failed to
// load (their previous version, or an empty map, is in force).
func (s *Set) Errors() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, f := range FileNames() {
		if e := s.errs[f]; e != nil {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// LoadState is one map file's load record, for metrics and status.
type LoadState struct {
	File     string
	Failures uint64 // failed loads since the server started
	Err      error  // why the latest load failed; nil when it loaded
}

// LoadStates returns the record of every map file that failed to load
// at least once, in FileNames order.
func (s *Set) LoadStates() []LoadState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LoadState
	for _, f := range FileNames() {
		if n := s.failures[f]; n > 0 {
			out = append(out, LoadState{File: f, Failures: n, Err: s.errs[f]})
		}
	}
	return out
}

func (s *Set) reload(files []string, why string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	next := *old
	var errs []error
	for _, f := range files {
		if s.ext.serves(f) {
			if err := s.fetch(&next, old, f, why); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		st, err := readMap(&next, s.dir, f)
		if err != nil {
			copyField(&next, old, f)
			errs = append(errs, err)
			s.errs[f] = err
			s.failures[f]++
			// Remember the failed version so a poll does not retry it
			// until the file changes again.
			s.stamps[f] = st
			s.log.Error("map not loaded; previous version kept", "map", f, "why", why, "err", err)
			continue
		}
		delete(s.errs, f)
		if s.stamps[f] != st || why != "change" {
			s.log.Info("map loaded", "map", f, "why", why, "entries", next.size(f), "present", st.exists)
		}
		s.stamps[f] = st
	}
	s.cur.Store(&next)
	return errors.Join(errs...)
}

// Watch keeps the maps current until ctx ends: every interval it rereads
// the files that changed, and on each value from hup (the caller's
// signal.Notify channel for SIGHUP; nil for none) it rereads them all.
// interval <= 0 means 2 seconds.
func (s *Set) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.ReloadChanged() // logged by reload
		case _, ok := <-hup:
			if !ok {
				hup = nil
				continue
			}
			_ = s.Reload()
		}
	}
}
