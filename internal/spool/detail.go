package spool

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"time"

	"postern/internal/envelope"
)

// MaxDetailHeader bounds the header ReadDetail returns.
const MaxDetailHeader = 64 << 10

// Attempt is one recorded delivery attempt of a message.
type Attempt struct {
	Time  time.Time
	Next  time.Time // the retry planned then
	Error string    // why it did not finish
}

// RcptDetail is one recipient and what became of it.
type RcptDetail struct {
	Addr      string
	Delivered bool
	Failed    string // the permanent failure, or ""
}

// Detail is everything the queue knows of one message, for the web
// console: its envelope, its header and its delivery history.
type Detail struct {
	Env      *envelope.Envelope
	Header   []byte // the content up to its empty line, at most MaxDetailHeader
	Rcpts    []RcptDetail
	Attempts []Attempt // oldest first, since the last requeue's reset
	Held     bool
}

// ReadDetail reads message id of the queue at dir (the spool directory
// given to New) without changing anything; a server may be running on
// it. A message that left the queue is os.ErrNotExist.
func ReadDetail(dir, id string) (Detail, error) {
	if !validID(id) {
		return Detail{}, os.ErrNotExist
	}
	qdir := filepath.Join(dir, "queue")
	f, err := os.Open(filepath.Join(qdir, id))
	if err != nil {
		return Detail{}, err
	}
	defer f.Close()
	env, ft, err := readHeader(f, id)
	if err != nil {
		return Detail{}, err
	}
	head, err := readMessageHeader(io.NewSectionReader(f, 0, ft.contentLen))
	if err != nil {
		return Detail{}, err
	}
	st, _, err := readState(filepath.Join(qdir, id+stateSuffix), len(env.Rcpts))
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Env: env, Header: head, Attempts: st.history, Held: st.held(env.Hold)}
	for i, r := range env.Rcpts {
		d.Rcpts = append(d.Rcpts, RcptDetail{Addr: r.Addr, Delivered: st.delivered[i], Failed: st.failed[i]})
	}
	return d, nil
}

// readMessageHeader reads r up to the empty line that ends the header
// (CRLF or LF), at most MaxDetailHeader bytes, a few KB at a time: most
// headers are small.
func readMessageHeader(r io.Reader) ([]byte, error) {
	var buf []byte
	chunk := 4 << 10
	for len(buf) < MaxDetailHeader {
		n := min(chunk, MaxDetailHeader-len(buf))
		buf = append(buf, make([]byte, n)...)
		got, err := io.ReadFull(r, buf[len(buf)-n:])
		buf = buf[:len(buf)-n+got]
		if h, ok := headerEnd(buf); ok {
			return h, nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		chunk *= 2
	}
	return buf, nil
}

// headerEnd is buf up to its header's end, if buf holds it.
func headerEnd(buf []byte) ([]byte, bool) {
	if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
		return buf[:i+2], true
	}
	if i := bytes.Index(buf, []byte("\n\n")); i >= 0 {
		return buf[:i+1], true
	}
	return nil, false
}
