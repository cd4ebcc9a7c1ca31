package submit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrTooBig is returned by ReadInput for input beyond its limit.
var ErrTooBig = errors.New("message too big")

// ReadInput reads a message as sendmail reads its standard input: up to
// end of file, or, when dotEnds (sendmail without -i or -oi), up to a
// line that holds a single "." (with LF or CR LF), which is not part of
// the message. Input beyond max bytes is ErrTooBig.
func ReadInput(r io.Reader, dotEnds bool, max int64) ([]byte, error) {
	lr := &io.LimitedReader{R: r, N: max + 1}
	if !dotEnds {
		b, err := io.ReadAll(lr)
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > max {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooBig, max)
		}
		return b, nil
	}
	br := bufio.NewReaderSize(lr, 64<<10)
	var out bytes.Buffer
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			out.Write(line)
			continue
		}
		// A whole line (or the last, unterminated one): is it the end?
		// Only a line that started at a line boundary counts.
		if atLineStart(out.Bytes()) && (bytes.Equal(line, []byte(".\n")) || bytes.Equal(line, []byte(".\r\n")) ||
			err == io.EOF && bytes.Equal(line, []byte("."))) {
			break
		}
		out.Write(line)
		if int64(out.Len()) > max {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooBig, max)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

func atLineStart(b []byte) bool { return len(b) == 0 || b[len(b)-1] == '\n' }
