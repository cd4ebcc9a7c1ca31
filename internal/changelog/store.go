package changelog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"postern/internal/privs"
)

// Bounds of the store: the oldest entries go first past either one,
// except the newest entry of each file (the next diff needs it).
const (
	MaxEntries = 200
	MaxBytes   = 50 << 20
)

// Store is the change log in data_dir/changes: for entry N the file
// N.json (the Entry and the version's hash) and N.data (a copy of the
// version, for the next diff and for rollback). Each is written to a
// temporary file, fsynced and renamed, then the directory is fsynced;
// N.json is renamed last, so an entry without its copy is never seen.
// Writers (the server and root's commands) take turns on a lock file.
type Store struct {
	dir   string
	owner privs.Owner
}

// record is what N.json holds.
type record struct {
	Entry
	Hash string `json:"sha256"`
	Size int64  `json:"size"`
}

// Version is a version of a watched file to record.
type Version struct {
	File string
	Data []byte
	Who  string
	// Kind is "rollback" for postern rollback; otherwise "first" or
	// "change" is chosen.
	Kind    string
	Applied bool
	Check   string
	Time    time.Time // zero: now
	// Redact, when set, rewrites both versions before they are diffed
	// (the users file's password hashes); the copy kept is the real one.
	Redact func(string) string
}

// Open returns the store in dir (data_dir/changes), made when missing.
// Files it writes as root are handed to owner (the service user).
func Open(dir string, owner privs.Owner) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := owner.Give(dir); err != nil {
		return nil, err
	}
	return &Store{dir: dir, owner: owner}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// List returns every kept entry, newest first, without their diffs.
func (s *Store) List() ([]Entry, error) {
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		e := recs[i].Entry
		e.Diff = ""
		out = append(out, e)
	}
	return out, nil
}

// Get returns entry n with its diff.
func (s *Store) Get(n int) (Entry, error) {
	r, err := s.read(n)
	return r.Entry, err
}

// Data returns the copy of the version entry n recorded.
func (s *Store) Data(n int) ([]byte, error) {
	r, err := s.read(n)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.path(n, ".data"))
	if err != nil {
		return nil, fmt.Errorf("change %d: the copy of its version is not kept: %w", n, err)
	}
	if hashOf(data) != r.Hash {
		return nil, fmt.Errorf("change %d: %s does not match its recorded checksum", n, s.path(n, ".data"))
	}
	return data, nil
}

// Newest is the number of the newest entry, 0 when there is none; it
// reads only the directory.
func (s *Store) Newest() int {
	ns, err := s.numbers()
	if err != nil || len(ns) == 0 {
		return 0
	}
	return ns[len(ns)-1]
}

// Latest returns the newest entry of file; false when there is none.
func (s *Store) Latest(file string) (Entry, bool, error) {
	recs, err := s.records()
	if err != nil {
		return Entry{}, false, err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].File == file {
			return recs[i].Entry, true, nil
		}
	}
	return Entry{}, false, nil
}

// Record adds an entry for v unless v's content is that of the newest
// entry of its file (then it returns false and that entry).
func (s *Store) Record(v Version) (Entry, bool, error) {
	unlock, err := s.lock()
	if err != nil {
		return Entry{}, false, err
	}
	defer unlock()
	recs, err := s.records()
	if err != nil {
		return Entry{}, false, err
	}
	hash := hashOf(v.Data)
	var prev *record
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].File == v.File {
			prev = &recs[i]
			break
		}
	}
	if prev != nil && prev.Hash == hash && v.Kind != "rollback" {
		return prev.Entry, false, nil
	}
	r := record{Entry: Entry{N: 1, Time: v.Time, File: v.File, Who: v.Who, Kind: v.Kind,
		Applied: v.Applied, Check: v.Check}, Hash: hash, Size: int64(len(v.Data))}
	if len(recs) > 0 {
		r.N = recs[len(recs)-1].N + 1
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC().Truncate(time.Second)
	if err := s.fillDiff(&r, prev, v.Data, v.Redact); err != nil {
		return Entry{}, false, err
	}
	if err := s.write(r, v.Data); err != nil {
		return Entry{}, false, err
	}
	s.prune(append(recs, r))
	return r.Entry, true, nil
}

// fillDiff sets the kind (when not rollback) and the diff against prev.
func (s *Store) fillDiff(r *record, prev *record, data []byte, redact func(string) string) error {
	if prev == nil {
		if r.Kind == "" {
			r.Kind = "first"
		}
		return nil
	}
	if r.Kind == "" {
		r.Kind = "change"
	}
	old, err := s.Data(prev.N)
	if err != nil {
		// The previous copy is gone (pruned or damaged): say so.
		r.Diff = fmt.Sprintf("(no diff: %v)\n", err)
		return nil
	}
	a, b := string(old), string(data)
	if redact != nil {
		a, b = redact(a), redact(b)
	}
	name := filepath.Base(r.File)
	r.Diff = Diff(fmt.Sprintf("%s (change %d)", name, prev.N), fmt.Sprintf("%s (change %d)", name, r.N), a, b)
	return nil
}

func (s *Store) write(r record, data []byte) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := s.writeFile(s.path(r.N, ".data"), data); err != nil {
		return err
	}
	return s.writeFile(s.path(r.N, ".json"), append(js, '\n'))
}

// writeFile writes path atomically, handed to the owner.
func (s *Store) writeFile(path string, data []byte) error {
	uid, gid := -1, -1
	if s.owner.IsSet() {
		uid, gid = s.owner.UID, s.owner.GID
	}
	return writeAtomic(path, data, 0o600, uid, gid)
}

// lock takes the store's lock file (flock), for one writer at a time.
func (s *Store) lock() (func(), error) {
	p := filepath.Join(s.dir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := s.owner.Give(p); err != nil {
		f.Close()
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// prune removes the oldest entries past MaxEntries or MaxBytes, keeping
// the newest entry of each file.
func (s *Store) prune(recs []record) {
	newest := map[string]int{}
	var total int64
	for _, r := range recs {
		newest[r.File] = r.N
		total += r.Size
	}
	count := len(recs)
	for _, r := range recs {
		if count <= MaxEntries && total <= MaxBytes {
			return
		}
		if newest[r.File] == r.N {
			continue
		}
		os.Remove(s.path(r.N, ".json"))
		os.Remove(s.path(r.N, ".data"))
		count--
		total -= r.Size
	}
}

func (s *Store) path(n int, ext string) string {
	return filepath.Join(s.dir, fmt.Sprintf("%08d%s", n, ext))
}

func (s *Store) read(n int) (record, error) {
	var r record
	data, err := os.ReadFile(s.path(n, ".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("no change %d in %s (see postern changes list)", n, s.dir)
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%s: %v", s.path(n, ".json"), err)
	}
	return r, nil
}

// numbers lists the entries' numbers, in order.
func (s *Store) numbers() ([]int, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var ns []int
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".json")
		if n, err := strconv.Atoi(name); ok && err == nil && n > 0 {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	return ns, nil
}

// records reads every entry, oldest first.
func (s *Store) records() ([]record, error) {
	ns, err := s.numbers()
	if err != nil {
		return nil, err
	}
	out := make([]record, 0, len(ns))
	for _, n := range ns {
		r, err := s.read(n)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func hashOf(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
