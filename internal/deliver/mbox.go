package deliver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Mbox appends a message to the mbox file at path (created 0600, with its
// directory, if missing) in mboxrd format: a "From sender date" line
// (MAILER-DAEMON for the null sender), the content with LF line endings
// and every line matching ^>*From  quoted with one more '>', then a blank
// line. The file is held under an fcntl write lock (the lock mail readers
// and Postfix's local use) while appending, and fsynced; on any error it
// is truncated back to its original size. Symbolic links and files with
// several hard links are refused, so the mailbox cannot be pointed
// elsewhere.
func Mbox(path, sender string, arrived time.Time, content io.Reader) error {
	if _, err := os.Lstat(filepath.Dir(path)); errors.Is(err, os.ErrNotExist) {
		if err := mkdirAllDurable(filepath.Dir(path)); err != nil {
			return fmt.Errorf("mbox: %w", err)
		}
	}
	_, statErr := os.Lstat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	defer f.Close() // also releases the lock
	if err := lockFile(f); err != nil {
		return fmt.Errorf("mbox: locking %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink > 1 {
		return fmt.Errorf("mbox: %s is not a plain file with one link", path)
	}
	size := st.Size
	err = appendMbox(f, size, sender, arrived, content)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if terr := f.Truncate(size); terr != nil {
			return fmt.Errorf("mbox: %v; and truncating %s back to %d bytes failed: %w", err, path, size, terr)
		}
		f.Sync()
		return fmt.Errorf("mbox: appending to %s: %w", path, err)
	}
	if created {
		if err := syncDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("mbox: %w", err)
		}
	}
	return nil
}

// lockFile takes an fcntl write lock on the whole file, waiting for it.
func lockFile(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &lk)
		if err != unix.EINTR {
			return err
		}
	}
}

func appendMbox(f *os.File, size int64, sender string, arrived time.Time, content io.Reader) error {
	bw := bufio.NewWriterSize(f, 32<<10)
	// A message must start after a blank line (or at the file start), or
	// its From_ line would not be seen as one.
	if size > 0 {
		var tail [2]byte
		n := int64(min(size, 2))
		if _, err := f.ReadAt(tail[:n], size-n); err != nil {
			return err
		}
		switch {
		case tail[n-1] != '\n':
			bw.WriteString("\n\n")
		case n == 2 && tail[0] != '\n':
			bw.WriteString("\n")
		}
	}
	bw.WriteString("From ")
	bw.WriteString(fromLineSender(sender))
	bw.WriteByte(' ')
	// The asctime(3) form that mbox readers expect.
	bw.WriteString(arrived.UTC().Format("Mon Jan _2 15:04:05 2006"))
	bw.WriteByte('\n')
	if err := copyLines(bw, content, true); err != nil {
		return err
	}
	bw.WriteByte('\n')
	return bw.Flush()
}

// fromLineSender is the sender as it goes on the From_ line: one word,
// MAILER-DAEMON for the null sender.
func fromLineSender(s string) string {
	if s == "" {
		return "MAILER-DAEMON"
	}
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c == 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}
