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
	used := false
	return mbox(path, sender, arrived, func() io.Reader {
		if used {
			panic("mbox: content read twice")
		}
		used = true
		return content
	}, "")
}

// mbox is Mbox with the content given as a function that returns it from
// the start each time it is called. When mark is not "", the content
// holds the header line mark, and the file is first searched for an
// earlier copy (see earlierCopy).
func mbox(path, sender string, arrived time.Time, content func() io.Reader, mark string) error {
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
	if mark != "" {
		there, keep, err := earlierCopy(f, size, sender, arrived, content, mark)
		if err != nil {
			return fmt.Errorf("mbox: reading %s: %w", path, err)
		}
		if there {
			return nil
		}
		if keep < size {
			// A partial copy at the end, left by a crash while appending.
			if err := f.Truncate(keep); err != nil {
				return fmt.Errorf("mbox: %w", err)
			}
			size = keep
		}
	}
	err = appendMbox(f, size, sender, arrived, content())
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
// It is an open file description lock (F_OFD_SETLKW): it conflicts with
// the classic fcntl locks of mail readers and other delivery agents, and
// unlike those it also excludes the other deliveries of this process,
// which run concurrently. Kernels without OFD locks (before Linux 3.15)
// get the classic lock.
func lockFile(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	cmd := unix.F_OFD_SETLKW
	for {
		err := unix.FcntlFlock(f.Fd(), cmd, &lk)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EINVAL && cmd == unix.F_OFD_SETLKW:
			cmd = unix.F_SETLKW
			continue
		}
		return err
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
	writeFromLine(bw, sender, arrived)
	if err := copyLines(bw, content, true); err != nil {
		return err
	}
	bw.WriteByte('\n')
	return bw.Flush()
}

// writeFromLine writes the From_ line that starts a message.
func writeFromLine(bw *bufio.Writer, sender string, arrived time.Time) {
	bw.WriteString("From ")
	bw.WriteString(fromLineSender(sender))
	bw.WriteByte(' ')
	// The asctime(3) form that mbox readers expect.
	bw.WriteString(arrived.UTC().Format("Mon Jan _2 15:04:05 2006"))
	bw.WriteByte('\n')
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

// redeliveryScan is how much of the end of an mbox is searched for an
// earlier copy of a message delivered again after a crash.
const redeliveryScan = 64 << 20

// earlierCopy looks in the mbox (size bytes) for a copy of the message
// from an earlier delivery, recognised by its header line mark. It
// reports there = true when a whole copy is found: from its From_ line to
// the next message it has exactly the length this delivery would write.
// A copy that is cut short and runs to the end of the file (the process
// was killed while appending) is to be cut off: keep is then where it
// starts, otherwise keep is size. A cut-short copy with mail after it
// stays where it is, and the message is appended again.
func earlierCopy(f io.ReaderAt, size int64, sender string, arrived time.Time, content func() io.Reader, mark string) (there bool, keep int64, err error) {
	// Only the end of the file is searched: a copy from before the crash
	// has at most the mail delivered since after it.
	from := max(0, size-redeliveryScan)
	start, end, found, err := findMarked(io.NewSectionReader(f, from, size-from), mark, from > 0)
	if err != nil || !found {
		return false, size, err
	}
	start, end = start+from, end+from
	var n countWriter
	bw := bufio.NewWriter(&n)
	writeFromLine(bw, sender, arrived)
	if err := copyLines(bw, content(), true); err != nil {
		return false, size, err
	}
	bw.WriteByte('\n')
	bw.Flush()
	switch {
	case end-start == int64(n):
		return true, size, nil
	case end == size && end-start < int64(n):
		return false, start, nil
	}
	return false, size, nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// findMarked finds the first message holding the line mark (LF-ended) in
// an mbox: the offset of its From_ line and of the next From_ line that
// follows a blank line (or the end).
func findMarked(r io.Reader, mark string, midLine bool) (start, end int64, found bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	// Starting in the middle of a file, the first line is a partial one.
	atStart, prevBlank := !midLine, !midLine
	for {
		chunk, err := br.ReadSlice('\n')
		if atStart {
			isFrom := prevBlank && len(chunk) >= 5 && string(chunk[:5]) == "From "
			switch {
			case isFrom && found:
				return start, off, true, nil
			case isFrom:
				start = off
			case !found && len(chunk) == len(mark)+1 && string(chunk[:len(mark)]) == mark && chunk[len(mark)] == '\n':
				found = true
			}
			prevBlank = len(chunk) == 1 && chunk[0] == '\n'
		} else {
			prevBlank = false
		}
		off += int64(len(chunk))
		atStart = err == nil // a line longer than the buffer continues
		if err == io.EOF {
			return start, off, found, nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return 0, 0, false, err
		}
	}
}
