package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrTruncatedData is returned by DataReader when the connection ends
// (io.EOF from the underlying reader) before the end-of-data marker. It is
// not io.EOF, so that a cut connection never passes for a complete message;
// errors.Is(err, io.EOF) and errors.Is(err, io.ErrUnexpectedEOF) both hold.
var ErrTruncatedData error = truncatedError{}

type truncatedError struct{}

func (truncatedError) Error() string { return "connection closed before end of DATA" }
func (truncatedError) Is(target error) bool {
	return target == io.EOF || target == io.ErrUnexpectedEOF
}

type dataState int

const (
	dataBody    dataState = iota // reading and returning content
	dataDiscard                  // content rejected: consuming up to the marker
	dataDone                     // marker consumed (or read error): Read returns err
)

// DataReader reads the content of a DATA command: dot-unstuffed, CRLF kept,
// up to and excluding the end marker CR LF "." CR LF (RFC 5321 4.1.1.4).
//
// Only CR LF . CR LF ends the data. A bare CR, a bare LF or a NUL anywhere
// in the content makes the message invalid (SMTP smuggling, CVE-2023-51764,
// CVE-2023-51765, CVE-2023-51766): the reader consumes the rest of the
// message up to the real marker and then returns a *Reply. Content beyond
// the size limit is handled the same way with ReplyMessageTooBig. Content
// returned by Read never holds a bare CR, a bare LF or a NUL.
type DataReader struct {
	r       *bufio.Reader
	max     int64
	n       int64     // content bytes accepted so far
	bol     bool      // the stream so far ends with CR LF (or nothing was read)
	state   dataState //
	pending []byte    // validated content not yet returned; aliases r's buffer
	err     error     // returned once state is dataDone
}

// NewDataReader returns a reader for the content of one DATA command read
// from r, which must be positioned right after the DATA command's CR LF.
// max > 0 limits the content size. After Read returned io.EOF or a *Reply,
// r is positioned right after the end marker.
func NewDataReader(r *bufio.Reader, max int64) *DataReader {
	return &DataReader{r: r, max: max, bol: true}
}

// Read implements io.Reader. It returns io.EOF once the marker has been
// consumed and the content was valid; a *Reply (5xx) when the content was
// rejected; any error of the underlying reader as is, except that its
// io.EOF becomes ErrTruncatedData.
func (d *DataReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	for n < len(p) {
		if len(d.pending) == 0 {
			// Block for a new line only when nothing is copied yet.
			if n > 0 && !d.lineBuffered() {
				break
			}
			if err := d.next(); err != nil {
				if n > 0 {
					// What was copied is valid content; the error (or
					// io.EOF) is returned again by the next call.
					return n, nil
				}
				return 0, err
			}
			continue
		}
		c := copy(p[n:], d.pending)
		d.pending = d.pending[c:]
		n += c
	}
	return n, nil
}

// lineBuffered reports whether a whole line is already in the buffer, so
// that next will not block.
func (d *DataReader) lineBuffered() bool {
	b := d.r.Buffered()
	if b == 0 {
		return false
	}
	buf, _ := d.r.Peek(b)
	return bytes.IndexByte(buf, '\n') >= 0 || b == d.r.Size()
}

// Discard consumes the rest of the message up to the end marker, for a
// consumer that stops early. It returns nil for valid content, the *Reply
// if the content was rejected, or the read error.
func (d *DataReader) Discard() error {
	d.pending = nil
	for {
		if err := d.next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		d.pending = nil
	}
}

// next makes the next piece of content pending, or returns the final error.
func (d *DataReader) next() error {
	for d.state != dataDone {
		line, err := d.r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = ErrTruncatedData
			}
			d.finish(err)
			break
		}
		whole := err == nil // line ends with '\n'
		if !whole && line[len(line)-1] == '\r' {
			// Keep a CR that ends a partial line for the next slice, so that
			// every CR LF pair is seen in one piece. The buffer is at least
			// 16 bytes, so this always makes progress.
			_ = d.r.UnreadByte()
			line = line[:len(line)-1]
		}
		if whole && d.bol && len(line) == 3 && line[0] == '.' && line[1] == '\r' {
			// RFC 5321 4.1.1.4: CR LF "." CR LF ends the mail data.
			if d.state == dataBody {
				d.finish(io.EOF)
			} else {
				d.state = dataDone
			}
			break
		}
		wasBOL := d.bol
		d.bol = whole && len(line) >= 2 && line[len(line)-2] == '\r'
		if d.state == dataDiscard {
			continue
		}
		body := line
		if wasBOL && body[0] == '.' {
			// RFC 5321 4.5.2: a line starting with a period has it removed.
			body = body[1:]
		}
		if r := checkContent(body, whole); r != nil {
			d.reject(r)
			continue
		}
		d.n += int64(len(body))
		if d.max > 0 && d.n > d.max {
			// RFC 5321 4.2.2: 552, exceeded storage allocation.
			d.reject(ReplyMessageTooBig.With(fmt.Errorf("message content exceeds %d bytes", d.max)))
			continue
		}
		if len(body) > 0 {
			d.pending = body
			return nil
		}
	}
	return d.err
}

// checkContent validates one slice of content: a whole line must end in
// CR LF and hold no other CR or LF; no NUL anywhere.
func checkContent(b []byte, whole bool) *Reply {
	end := len(b)
	if whole {
		// RFC 5321 2.3.8: a line ends with CR LF; a bare LF is refused.
		if len(b) < 2 || b[len(b)-2] != '\r' {
			return ReplyBareLineEnd.With(errors.New("bare LF in DATA"))
		}
		end -= 2
	}
	if bytes.IndexByte(b[:end], '\r') >= 0 {
		return ReplyBareLineEnd.With(errors.New("bare CR in DATA"))
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return ReplyNUL.With(errors.New("NUL in DATA"))
	}
	return nil
}

// reject switches to discarding: the reply is returned after the marker.
func (d *DataReader) reject(r *Reply) {
	d.state = dataDiscard
	d.err = r
	d.pending = nil
}

func (d *DataReader) finish(err error) {
	d.state = dataDone
	d.err = err
	d.pending = nil
}
