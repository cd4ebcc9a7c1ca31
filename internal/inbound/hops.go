package inbound

import (
	"io"
)

// hopCounter counts Received header fields in the header section of a
// message as it streams past, without buffering it.
type hopCounter struct {
	n         int
	bodyStart bool // the blank line after the header was seen
	lineStart bool
	match     int // bytes of "received:" matched at the start of this line
	started   bool
}

const receivedName = "received:"

// scan looks at the next piece of the message.
func (h *hopCounter) scan(p []byte) {
	if h.bodyStart {
		return
	}
	if !h.started {
		h.started, h.lineStart = true, true
	}
	for _, c := range p {
		if h.lineStart {
			if c == '\r' || c == '\n' {
				// An empty line ends the header section.
				if c == '\n' {
					h.bodyStart = true
					return
				}
				continue
			}
			h.lineStart = false
			h.match = 0
		}
		if h.match >= 0 && h.match < len(receivedName) {
			if lower(c) == receivedName[h.match] {
				h.match++
				if h.match == len(receivedName) {
					h.n++
					h.match = -1
				}
			} else {
				h.match = -1
			}
		}
		if c == '\n' {
			h.lineStart = true
		}
	}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// copyCounting copies r to w through buf, counting hops on the way.
func copyCounting(w io.Writer, r io.Reader, h *hopCounter, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.scan(buf[:n])
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
