package srs

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"postern/internal/privs"
)

// The keys file holds one secret per line, the signing one first, the
// older ones after it: the format of postsrsd's secrets file, so that
// /etc/postsrsd.secret can be copied over it. Blank lines are skipped; a
// line is used as it is, without its line ending.

// maxKeysFile bounds the file: a few hundred keys at most.
const maxKeysFile = 64 << 10

// checkEvery is how often a running server looks whether the file
// changed (a rotation by `postern srs rotate`).
const checkEvery = 5 * time.Second

// ReadKeys reads a keys file. It refuses a file that others may read (a
// leaked key lets anyone make addresses we relay to) and one without a
// key.
func ReadKeys(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: readable or writable by group or others (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	if fi.Size() > maxKeysFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeysFile)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil && fi.Size() > 0 {
		return nil, err
	}
	var keys [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 {
			keys = append(keys, line)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no key in the file", path)
	}
	return keys, nil
}

// newKey makes a secret: 24 random bytes in base64 (32 characters, as a
// line of postsrsd's file).
func newKey() ([]byte, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return []byte(base64.StdEncoding.EncodeToString(b)), nil
}

// Rotate puts a new signing key at the top of the keys file, keeping
// the older ones after it for checking, and gives the file (and the
// directory, when it makes it) to owner. A missing file is made with its
// first key. It returns how many keys the file holds now.
func Rotate(path string, owner privs.Owner) (int, error) {
	old, err := ReadKeys(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	key, err := newKey()
	if err != nil {
		return 0, err
	}
	keys := append([][]byte{key}, old...)
	if err := writeKeys(path, keys, owner); err != nil {
		return 0, err
	}
	return len(keys), nil
}

// writeKeys replaces the keys file atomically: a temporary file in the
// same directory, mode 0600 and already owner's, synced, then renamed
// over the old one, so that the server never reads half a file or one
// it may not open.
func writeKeys(path string, keys [][]byte, owner privs.Owner) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := owner.Give(dir); err != nil {
			return err
		}
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, there is nothing to remove
	err = f.Chmod(0o600)
	if err == nil && owner.IsSet() {
		err = f.Chown(owner.UID, owner.GID)
	}
	if err == nil {
		_, err = f.Write(append(bytes.Join(keys, []byte("\n")), '\n'))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Keyring is the keys file as the running server uses it: read at
// start, and again when the file changes, looked at no more often than
// every few seconds. A file that cannot be read after a change leaves
// the keys in use as they were (and is logged).
type Keyring struct {
	Path string
	Log  *slog.Logger

	mu      sync.Mutex
	keys    [][]byte
	seen    fileID
	checked time.Time
	failed  string // the last error logged, so that it is logged once
}

// fileID tells one version of the file from the next.
type fileID struct {
	ino, size int64
	mtime     time.Time
}

func idOf(fi fs.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.ino = int64(st.Ino)
	}
	return id
}

// OpenKeyring reads the keys file at path. With create, a missing file
// is made first with one new key, mode 0600 in a directory of mode
// 0700, as the user the process runs as (the server on its first
// start); without it, a missing file is an error.
func OpenKeyring(path string, create bool, log *slog.Logger) (*Keyring, error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) && create {
		if _, err := Rotate(path, privs.Owner{}); err != nil {
			return nil, fmt.Errorf("SRS keys: %w", err)
		}
		if log != nil {
			log.Info("srs: made the first signing key", "file", path)
		}
	}
	k := &Keyring{Path: path, Log: log}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("SRS keys: %w", err)
	}
	keys, err := ReadKeys(path)
	if err != nil {
		return nil, fmt.Errorf("SRS keys: %w", err)
	}
	k.keys, k.seen, k.checked = keys, idOf(fi), time.Now()
	return k, nil
}

// Secrets implements Secrets: the keys, read again when the file
// changed.
func (k *Keyring) Secrets() [][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now := time.Now(); now.Sub(k.checked) >= checkEvery {
		k.checked = now
		k.reload()
	}
	return k.keys
}

// reload reads the file again when it is not the version read last.
func (k *Keyring) reload() {
	fi, err := os.Stat(k.Path)
	if err == nil && idOf(fi) == k.seen {
		return
	}
	var keys [][]byte
	if err == nil {
		keys, err = ReadKeys(k.Path)
	}
	if err != nil {
		if k.Log != nil && err.Error() != k.failed {
			k.Log.Warn("srs: keys file not read again; the keys read before stay in use", "file", k.Path, "err", err)
		}
		k.failed = err.Error()
		return
	}
	k.keys, k.seen, k.failed = keys, idOf(fi), ""
	if k.Log != nil {
		k.Log.Info("srs: keys read again", "file", k.Path, "keys", len(keys))
	}
}
