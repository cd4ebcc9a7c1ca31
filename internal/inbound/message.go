package inbound

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"os"
	"strings"
	"sync"
)

// memLimit is how much of a message is held in memory; the rest goes to
// an unlinked temporary file.
const memLimit = 1 << 20

// Message is the content of one message as received: header and body with
// CRLF line ends. Small messages live in memory, large ones in an
// unlinked temporary file.
type Message struct {
	mem  []byte
	file *os.File // when the content outgrew memLimit
	size int64
	dir  string // for temporary files

	hdr textproto.MIMEHeader // parsed on first use
}

func newMessage(dir string, mem []byte) *Message {
	return &Message{dir: dir, mem: mem[:0]}
}

// Write appends content (used while receiving).
func (m *Message) Write(p []byte) (int, error) {
	if m.file == nil && len(m.mem)+len(p) <= memLimit {
		m.mem = append(m.mem, p...)
		m.size += int64(len(p))
		return len(p), nil
	}
	if m.file == nil {
		f, err := os.CreateTemp(m.dir, "msg-*")
		if err != nil {
			return 0, err
		}
		os.Remove(f.Name()) // gone with the last descriptor
		if _, err := f.Write(m.mem); err != nil {
			f.Close()
			return 0, err
		}
		m.file = f
		m.mem = m.mem[:0]
	}
	n, err := m.file.Write(p)
	m.size += int64(n)
	return n, err
}

// Size is the content's length in bytes.
func (m *Message) Size() int64 { return m.size }

// ReadAt implements io.ReaderAt over the content.
func (m *Message) ReadAt(p []byte, off int64) (int, error) {
	if m.file != nil {
		return m.file.ReadAt(p, off)
	}
	if off >= int64(len(m.mem)) {
		return 0, io.EOF
	}
	n := copy(p, m.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Reader returns a reader of the whole content from its start.
func (m *Message) Reader() io.Reader {
	if m.file == nil {
		return bytes.NewReader(m.mem)
	}
	return io.NewSectionReader(m.file, 0, m.size)
}

// headerReaders are the buffers Header reads through; the parsed header
// keeps no reference to them.
var headerReaders = sync.Pool{New: func() any { return bufio.NewReader(nil) }}

// Header returns the parsed header section (keys canonicalised). A
// malformed header gives what could be read.
func (m *Message) Header() textproto.MIMEHeader {
	if m.hdr == nil {
		br := headerReaders.Get().(*bufio.Reader)
		br.Reset(m.Reader())
		h, _ := textproto.NewReader(br).ReadMIMEHeader()
		br.Reset(nil)
		headerReaders.Put(br)
		if h == nil {
			h = textproto.MIMEHeader{}
		}
		m.hdr = h
	}
	return m.hdr
}

// Get returns the first value of a header field, unfolded and trimmed.
func (m *Message) Get(name string) string {
	return strings.TrimSpace(m.Header().Get(name))
}

// Replace swaps the content for new content (a milter's body change). r
// may read the current content: the new content is written to new
// storage (memory up to memLimit, then a temporary file) and swapped in
// once it is complete.
func (m *Message) Replace(r io.Reader) error {
	return m.Rewrite(func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// Rewrite replaces the content with what write writes, which may read
// the current content meanwhile. On error the content stays as it was.
func (m *Message) Rewrite(write func(w io.Writer) error) error {
	n := &Message{dir: m.dir}
	bw := bufio.NewWriterSize(n, 32<<10)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		n.close()
		return err
	}
	m.close()
	m.mem, m.file, m.size, m.hdr = n.mem, n.file, n.size, nil
	return nil
}

func (m *Message) close() {
	if m.file != nil {
		m.file.Close()
		m.file = nil
	}
}
