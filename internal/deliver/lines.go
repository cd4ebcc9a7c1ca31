// Package deliver puts messages where they go: local mailboxes (Maildir,
// mbox) now, and later pipes, LMTP and remote SMTP. Local is a
// spool.Courier; spool and deliver never import each other.
package deliver

import (
	"bufio"
	"io"
)

// copyLines copies a message from r to w converting CRLF line endings to
// the LF that local mailbox files use (a lone CR is kept as it is), and
// makes sure the copy ends with a newline. With quoteFrom it applies
// mboxrd quoting: a line matching ^>*From  gets one more '>' (the reader
// removes one).
func copyLines(w *bufio.Writer, r io.Reader, quoteFrom bool) error {
	br := bufio.NewReaderSize(r, 32<<10)
	atStart := true // at the beginning of a line
	pendingCR := false
	wrote := false
	lastNL := false
	for {
		if atStart && quoteFrom {
			// Leading '>'s are copied as they come: inserting the extra
			// '>' after them gives the same bytes as inserting it before.
			for {
				c, err := br.ReadByte()
				if err != nil {
					break
				}
				if c != '>' {
					br.UnreadByte()
					break
				}
				w.WriteByte('>')
				wrote, lastNL = true, false
			}
			if p, _ := br.Peek(5); string(p) == "From " {
				w.WriteByte('>')
				wrote, lastNL = true, false
			}
		}
		atStart = false
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if pendingCR {
				if chunk[0] != '\n' {
					w.WriteByte('\r')
				}
				pendingCR = false
			}
			switch {
			case chunk[len(chunk)-1] == '\n':
				if len(chunk) >= 2 && chunk[len(chunk)-2] == '\r' {
					w.Write(chunk[:len(chunk)-2])
					w.WriteByte('\n')
				} else {
					w.Write(chunk)
				}
				atStart = true
				lastNL = true
			case chunk[len(chunk)-1] == '\r':
				// Maybe the CR of a CRLF split across reads.
				w.Write(chunk[:len(chunk)-1])
				pendingCR = true
				lastNL = false
			default:
				w.Write(chunk)
				lastNL = false
			}
			wrote = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if pendingCR {
		w.WriteByte('\r')
	}
	if wrote && !lastNL || pendingCR {
		w.WriteByte('\n')
	}
	return nil
}
