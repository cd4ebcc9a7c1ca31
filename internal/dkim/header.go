package dkim

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// maxHeaderBytes bounds the header block read into memory.
const maxHeaderBytes = 1 << 20

// readHeader reads the header block of a message, up to and including
// the empty line that ends it (or the whole input when there is no body).
// It returns the header bytes as read, so that the message can be
// reassembled unchanged.
func readHeader(br *bufio.Reader) ([]byte, error) {
	var buf bytes.Buffer
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if buf.Len()+len(line) > maxHeaderBytes {
				return nil, errors.New("message header too large")
			}
			buf.Write(line)
			if len(bytes.TrimRight(line, "\r\n")) == 0 && bytes.HasSuffix(line, []byte("\n")) {
				return buf.Bytes(), nil
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// terminateHeader adds the empty line that ends the header when a
// message has no body and ends with its last header field (RFC 5322 3.5:
// the body is optional); the body is then empty either way.
func terminateHeader(h []byte) []byte {
	if bytes.HasSuffix(h, []byte("\r\n\r\n")) || bytes.Equal(h, []byte("\r\n")) {
		return h
	}
	if bytes.HasSuffix(h, []byte("\n\n")) {
		return h
	}
	if !bytes.HasSuffix(h, []byte("\n")) {
		h = append(h, '\r', '\n')
	}
	return append(h, '\r', '\n')
}

// stripFWS removes all white space (RFC 6376 3.2: FWS inside tag values
// is ignored).
func stripFWS(s string) string {
	if strings.IndexAny(s, " \t\r\n") < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			b = append(b, c)
		}
	}
	return string(b)
}

// peekHeader returns the header block at the start of br, up to and
// including the empty line that ends it, without consuming anything: the
// bytes stay in br's buffer for the verifier to read. ok is false when
// the header does not fit in the buffer or has no empty line after it.
// The slice is valid only until br is read.
func peekHeader(br *bufio.Reader) (head []byte, ok bool) {
	buf, _ := br.Peek(br.Size())
	// The empty line ends the header; it is "\r\n" or a bare "\n", as
	// the verifier's line reader takes either.
	for i := 0; i < len(buf); {
		nl := bytes.IndexByte(buf[i:], '\n')
		if nl < 0 {
			return nil, false
		}
		line := buf[i : i+nl+1]
		i += nl + 1
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			return buf[:i], true
		}
	}
	return nil, false
}
