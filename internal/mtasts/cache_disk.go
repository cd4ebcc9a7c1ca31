package mtasts

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// fileName is where domain's policy is kept in dir, or "" for a name
// that is not a plain host name (never a path).
func fileName(dir, domain string) string {
	if domain == "" || strings.HasPrefix(domain, ".") || strings.Contains(domain, "..") {
		return ""
	}
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !isAlnum(c) && c != '.' && c != '-' && c != '_' {
			return ""
		}
	}
	return filepath.Join(dir, domain+".json")
}

// save writes e to disk: a temporary file, synced, then renamed, so that a
// crash leaves the old policy or the new one, never half of one.
func (c *Cache) save(e *Entry) {
	if c.Dir == "" || c.ReadOnly {
		return
	}
	if err := writeEntry(c.Dir, e); err != nil {
		c.log().Warn("MTA-STS policy not saved; it is used from memory", "domain", e.Domain, "error", err)
	}
}

func writeEntry(dir string, e *Entry) error {
	name := fileName(dir, e.Domain)
	if name == "" {
		return fmt.Errorf("domain %q is not a host name", e.Domain)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".policy-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// Load reads the policies saved in Dir, keeping those still in force. A
// file that does not parse is reported and left out (the domain's policy
// is fetched again); a directory that cannot be read is an error.
func (c *Cache) Load() error {
	if c.Dir == "" {
		return nil
	}
	files, err := os.ReadDir(c.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("MTA-STS cache %s: %w", c.Dir, err)
	}
	now := c.now()
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		e, err := readEntry(filepath.Join(c.Dir, f.Name()))
		if err != nil {
			c.log().Warn("MTA-STS cache file left out", "file", filepath.Join(c.Dir, f.Name()), "error", err)
			continue
		}
		if !now.Before(e.Expires()) {
			os.Remove(filepath.Join(c.Dir, f.Name()))
			continue
		}
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[string]*Entry{}
		}
		c.entries[e.Domain] = e
		c.mu.Unlock()
	}
	return nil
}

// readEntry reads one saved policy, parsed again with ParsePolicy.
func readEntry(path string) (*Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	if filepath.Base(path) != e.Domain+".json" {
		return nil, fmt.Errorf("holds the policy of %q", e.Domain)
	}
	if e.Policy, err = ParsePolicy(e.Body); err != nil {
		return nil, err
	}
	return &e, nil
}

// expire forgets the policies whose max_age has passed.
func (c *Cache) expire() {
	now := c.now()
	c.mu.Lock()
	var gone []string
	for d, e := range c.entries {
		if !now.Before(e.Expires()) {
			gone = append(gone, d)
			delete(c.entries, d)
		}
	}
	for d, until := range c.absent {
		if !now.Before(until) {
			delete(c.absent, d)
		}
	}
	c.mu.Unlock()
	for _, d := range gone {
		if name := fileName(c.Dir, d); c.Dir != "" && name != "" {
			os.Remove(name)
		}
	}
}
