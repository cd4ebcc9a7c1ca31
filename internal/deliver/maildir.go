package deliver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Maildir delivers content to the Maildir at dir, creating dir and its
// tmp, new and cur subdirectories (mode 0700) if missing. The message is
// written to tmp/NAME with LF line endings and fsynced, linked to
// new/NAME and new/ is fsynced. Delivery is idempotent on name: when NAME
// is already in new/, or in cur/ with an info suffix (NAME:2,flags), the
// message is there and nothing is written.
func Maildir(dir, name string, content io.Reader) error {
	return maildir(dir, name, content, true)
}

// maildir is Maildir; with lookInCur false it does not scan cur/ for an
// earlier copy (a copy can be there only after a crash or restart: the
// queue knows when that is possible, and cur/ may hold many files).
func maildir(dir, name string, content io.Reader, lookInCur bool) error {
	if err := checkMaildirName(name); err != nil {
		return err
	}
	if err := makeMaildir(dir); err != nil {
		return err
	}
	newPath := filepath.Join(dir, "new", name)
	if there, err := maildirHas(dir, name, lookInCur); err != nil || there {
		return err
	}
	tmpPath := filepath.Join(dir, "tmp", name)
	f, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_TRUNC, 0o600)
	if errors.Is(err, os.ErrExist) {
		// Left over from an interrupted delivery of this very message.
		os.Remove(tmpPath)
		f, err = os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	bw := bufio.NewWriterSize(f, 32<<10)
	err = copyLines(bw, content, false)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmpPath)
		return fmt.Errorf("maildir: writing %s: %w", tmpPath, err)
	}
	// link, not rename: it never replaces a file already in new/.
	err = os.Link(tmpPath, newPath)
	os.Remove(tmpPath)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("maildir: %w", err)
	}
	if err := syncDir(filepath.Join(dir, "new")); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// checkMaildirName refuses names that are not a single plain file name.
func checkMaildirName(name string) error {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/:\x00") {
		return fmt.Errorf("maildir: bad file name %q", name)
	}
	return nil
}

// makeMaildir creates dir/{tmp,new,cur} if they are missing, durably.
func makeMaildir(dir string) error {
	for _, sub := range []string{"tmp", "new", "cur"} {
		d := filepath.Join(dir, sub)
		if fi, err := os.Stat(d); err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("maildir: %s is not a directory", d)
			}
			continue
		}
		if err := mkdirAllDurable(d); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
	}
	return nil
}

// maildirHas reports whether a message named name is in new/ or, with
// lookInCur, in cur/ (where a mail reader moved it, adding ":2,flags"; some
// add ",S=size" and the like before that).
func maildirHas(dir, name string, lookInCur bool) (bool, error) {
	if _, err := os.Lstat(filepath.Join(dir, "new", name)); err == nil {
		return true, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("maildir: %w", err)
	}
	if !lookInCur {
		return false, nil
	}
	if _, err := os.Lstat(filepath.Join(dir, "cur", name+":2,")); err == nil {
		return true, nil
	}
	d, err := os.Open(filepath.Join(dir, "cur"))
	if err != nil {
		return false, fmt.Errorf("maildir: %w", err)
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(4096)
		for _, n := range names {
			if n == name || strings.HasPrefix(n, name) && (n[len(name)] == ':' || n[len(name)] == ',') {
				return true, nil
			}
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("maildir: %w", err)
		}
	}
}

// mkdirAllDurable creates dir and missing parents with mode 0700 and
// fsyncs each parent that got a new entry.
func mkdirAllDurable(dir string) error {
	dir = filepath.Clean(dir)
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllDurable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// syncDir fsyncs a directory so that entries added to it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
