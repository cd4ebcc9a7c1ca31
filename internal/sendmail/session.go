package sendmail

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
)

// SMTP is -bs: an SMTP conversation on in and out, passed to the
// server's socket. Lines from the client may end in a bare LF (a person
// typing); they are passed on with CR LF. It returns the exit status.
func (c *Client) SMTP(ctx context.Context, in io.Reader, out io.Writer) int {
	nc, code := c.dial(ctx)
	if nc == nil {
		return code
	}
	defer nc.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, nc)
		done <- err
	}()
	go passLines(in, nc)
	if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
		c.errorf("%v", err)
		return ExIOErr
	}
	return 0
}

// passLines copies the client's lines to the server with CR LF endings,
// flushing whenever the client pauses; at the end of the input the server
// sees the end, as after QUIT.
func passLines(in io.Reader, nc net.Conn) {
	br := bufio.NewReaderSize(in, 64<<10)
	bw := bufio.NewWriter(nc)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if bytes.HasSuffix(line, []byte("\n")) && !bytes.HasSuffix(line, []byte("\r\n")) {
				bw.Write(line[:len(line)-1])
				bw.WriteString("\r\n")
			} else {
				bw.Write(line)
			}
		}
		if br.Buffered() == 0 || err != nil {
			if bw.Flush() != nil {
				return
			}
		}
		if err != nil && err != bufio.ErrBufferFull {
			break
		}
	}
	if uc, ok := nc.(*net.UnixConn); ok {
		uc.CloseWrite()
	}
}
