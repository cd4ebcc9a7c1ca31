package route

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Marks records, one empty file each, what was already done for a
// message in the queue: a forwarded copy queued, a file written, a
// program run. A retry of the message (when another target of the same
// recipient failed for now) looks here first and does not do it again.
// A mark is written after the work is durable, so a crash in between may
// repeat it once (at least once, as SMTP itself), never skip it.
type Marks struct {
	// Dir holds the marks (created 0700 when missing).
	Dir string
	// Keep is how long marks are kept; 0 means 6 days (longer than a
	// message stays in the queue).
	Keep time.Duration
}

// path names the mark of key for message id: the id (so that a listing
// shows which message a mark is for) and a hash of the key.
func (m Marks) path(id string, key ...string) string {
	h := sha256.Sum256([]byte(id + "\x00" + strings.Join(key, "\x00")))
	return filepath.Join(m.Dir, id+"-"+hex.EncodeToString(h[:10]))
}

// Has reports whether key was marked done for message id.
func (m Marks) Has(id string, key ...string) bool {
	_, err := os.Stat(m.path(id, key...))
	return err == nil
}

// Add marks key done for message id.
func (m Marks) Add(id string, key ...string) error {
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(m.path(id, key...), nil, 0o600)
}

// Prune removes marks older than Keep.
func (m Marks) Prune(now time.Time) {
	keep := m.Keep
	if keep <= 0 {
		keep = 6 * 24 * time.Hour
	}
	ents, err := os.ReadDir(m.Dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > keep {
			os.Remove(filepath.Join(m.Dir, e.Name()))
		}
	}
}
