package dkim

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	// Force lets the selector take over from an older one without
	// waiting for its DNS record to match (postern dkim activate -force).
	Force bool `toml:"force,omitempty"`
	// Published is when the server found the selector's DNS record
	// publishing its key (the SELECTOR.published file); zero when not
	// known. It is not part of rotation.toml.
	Published time.Time `toml:"-"`
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
	StatePending = "pending" // waiting for its time, or for its DNS record (Decision.Why says which)
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
	sf, err := readScheduleFile(filepath.Join(ddir, ScheduleFile))
	if err != nil {
		return nil, err
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
	for i := range out {
		if out[i].Published, err = readPublished(dir, domain, out[i].Name); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// States gives each selector's state at now, as Decide decides it.
func States(sels []Selector, now time.Time, activateAfter time.Duration) map[string]string {
	states := map[string]string{}
	for name, d := range Decide(sels, now, activateAfter) {
		states[name] = d.State
	}
	return states
}

// AddSelector records a new selector in the domain's rotation.toml.
func AddSelector(dir, domain string, s Selector) error {
	path := filepath.Join(dir, domain, ScheduleFile)
	sf, err := readScheduleFile(path)
	if err != nil {
		return err
	}
	for _, old := range sf.Selector {
		if old.Name == s.Name {
			return fmt.Errorf("%s: selector %q is listed already", path, s.Name)
		}
	}
	sf.Selector = append(sf.Selector, s)
	return writeSchedule(dir, domain, sf)
}

// ChangeSelector changes one selector's entry in the domain's
// rotation.toml with change; a selector whose key file the schedule
// does not list yet is added first, as ReadSchedule dates it.
func ChangeSelector(dir, domain, name string, change func(*Selector)) error {
	path := filepath.Join(dir, domain, ScheduleFile)
	sf, err := readScheduleFile(path)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(sf.Selector, func(s Selector) bool { return s.Name == name })
	if i < 0 {
		sels, err := ReadSchedule(dir, domain)
		if err != nil {
			return err
		}
		j := slices.IndexFunc(sels, func(s Selector) bool { return s.Name == name })
		if j < 0 {
			return fmt.Errorf("%s has no selector %q (no %s)", domain, name, KeyPath(dir, domain, name))
		}
		sels[j].Published = time.Time{}
		sf.Selector = append(sf.Selector, sels[j])
		i = len(sf.Selector) - 1
	}
	change(&sf.Selector[i])
	return writeSchedule(dir, domain, sf)
}

// readScheduleFile reads rotation.toml as it is; a missing file is an
// empty schedule.
func readScheduleFile(path string) (scheduleFile, error) {
	var sf scheduleFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return sf, nil
	}
	if err != nil {
		return sf, err
	}
	if _, err := toml.Decode(string(b), &sf); err != nil {
		return sf, fmt.Errorf("%s: %w", path, err)
	}
	return sf, nil
}

// writeSchedule writes the domain's rotation.toml, to a temporary file
// renamed into place.
func writeSchedule(dir, domain string, sf scheduleFile) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# DKIM selectors of %s, in the order they were made, kept by\n", domain)
	buf.WriteString("# \"postern dkim keygen\". A selector may sign from created + [dkim] activate_after\n")
	buf.WriteString("# (or from \"activate\" when set). A newer one takes over from an older one of\n")
	buf.WriteString("# the same algo only once its DNS record matches its key, or with force = true.\n")
	buf.WriteString("# Set retired = true to stop using a selector at once.\n\n")
	if err := toml.NewEncoder(&buf).Encode(sf); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, domain, ScheduleFile), buf.Bytes())
}

// writeFileAtomic writes a file of mode 0600 through a temporary file
// in the same directory, synced and renamed into place.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".postern-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
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
