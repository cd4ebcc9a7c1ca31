package dkim

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultActivateAfter is how long a new selector waits between being
// made (and its DNS record published) and signing mail, when the option
// is not set: long enough for the record to reach every cache.
const DefaultActivateAfter = 72 * time.Hour

// ScheduleFile is the per-domain rotation state, beside the keys:
// data_dir/dkim/DOMAIN/rotation.toml.
const ScheduleFile = "rotation.toml"

// Selector is one key of a domain and its place in the rotation.
type Selector struct {
	Name     string    `toml:"name"`
	Algo     string    `toml:"algo"`               // AlgoRSA or AlgoEd25519
	Created  time.Time `toml:"created"`            // when the key was made (and its record printed)
	Activate time.Time `toml:"activate,omitempty"` // optional: sign from this time instead of Created+activate_after
	Retired  bool      `toml:"retired,omitempty"`  // optional: never sign with it again
}

// ActivatesAt is when the selector may start signing.
func (s Selector) ActivatesAt(activateAfter time.Duration) time.Time {
	if !s.Activate.IsZero() {
		return s.Activate
	}
	return s.Created.Add(activateAfter)
}

// State of a selector at a given time.
const (
	StatePending = "pending" // made, record published, waiting for DNS caches
	StateActive  = "active"  // signs mail today
	StateRetired = "retired" // superseded by a newer selector (or retired by hand)
)

type scheduleFile struct {
	Selector []Selector `toml:"selector"`
}

// ReadSchedule returns the selectors of a domain: those in its
// rotation.toml plus any SELECTOR.key file it does not list (dated by the
// file's modification time), sorted by creation time.
func ReadSchedule(dir, domain string) ([]Selector, error) {
	ddir := filepath.Join(dir, domain)
	var sf scheduleFile
	b, err := os.ReadFile(filepath.Join(ddir, ScheduleFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if _, err := toml.Decode(string(b), &sf); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(ddir, ScheduleFile), err)
		}
	}
	known := map[string]bool{}
	var out []Selector
	for _, s := range sf.Selector {
		if !ValidSelector(s.Name) || (s.Algo != AlgoRSA && s.Algo != AlgoEd25519) {
			return nil, fmt.Errorf("%s: bad selector entry %q (algo %q)", filepath.Join(ddir, ScheduleFile), s.Name, s.Algo)
		}
		if _, err := os.Stat(KeyPath(dir, domain, s.Name)); err != nil {
			continue // listed but its key is gone: nothing to sign with
		}
		known[s.Name] = true
		out = append(out, s)
	}
	// ReadDir, not Glob: a directory the server cannot read must be an
	// error (451), not a domain without keys (mail sent unsigned).
	ents, err := os.ReadDir(ddir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".key")
		if !ok || known[name] || !ValidSelector(name) {
			continue
		}
		f := filepath.Join(ddir, e.Name())
		k, err := LoadKey(f)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Selector{Name: name, Algo: KeyAlgo(k), Created: fi.ModTime().UTC()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// States gives each selector's state at now: per algorithm, the newest
// selector whose activation time has come signs; older ones are retired;
// newer ones are pending.
func States(sels []Selector, now time.Time, activateAfter time.Duration) map[string]string {
	states := map[string]string{}
	newest := map[string]Selector{}
	for _, s := range sels {
		if s.Retired {
			states[s.Name] = StateRetired
			continue
		}
		if now.Before(s.ActivatesAt(activateAfter)) {
			states[s.Name] = StatePending
			continue
		}
		if cur, ok := newest[s.Algo]; !ok || s.ActivatesAt(activateAfter).After(cur.ActivatesAt(activateAfter)) {
			newest[s.Algo] = s
		}
	}
	for _, s := range sels {
		if _, done := states[s.Name]; done {
			continue
		}
		if newest[s.Algo].Name == s.Name {
			states[s.Name] = StateActive
		} else {
			states[s.Name] = StateRetired
		}
	}
	return states
}

// AddSelector records a new selector in the domain's rotation.toml,
// written to a temporary file and renamed into place.
func AddSelector(dir, domain string, s Selector) error {
	ddir := filepath.Join(dir, domain)
	path := filepath.Join(ddir, ScheduleFile)
	var sf scheduleFile
	if b, err := os.ReadFile(path); err == nil {
		if _, err := toml.Decode(string(b), &sf); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, old := range sf.Selector {
		if old.Name == s.Name {
			return fmt.Errorf("%s: selector %q is listed already", path, s.Name)
		}
	}
	sf.Selector = append(sf.Selector, s)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# DKIM selectors of %s, in the order they were made, kept by\n", domain)
	buf.WriteString("# \"postern dkim keygen\". A selector signs from created + [dkim] activate_after\n")
	buf.WriteString("# (or from \"activate\" when set) until a newer one of the same algo activates.\n")
	buf.WriteString("# Set retired = true to stop using a selector at once.\n\n")
	if err := toml.NewEncoder(&buf).Encode(sf); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(ddir, ".rotation-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
