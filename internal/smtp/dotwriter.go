package smtp

import (
	"errors"
	"io"
)

// dotWriter implements NewDotWriter.
type dotWriter struct {
	w      io.Writer
	bol    bool // at the beginning of a line
	lastCR bool // the previous input byte was CR, already written as CR LF
	closed bool
	buf    []byte
}

// NewDotWriter returns a writer for the content of DATA on the client
// side. Every line ending (CR LF, bare LF, bare CR) becomes CR LF, lines
// starting with "." get a second one (RFC 5321 4.5.2), and Close ends the
// content with CR LF if needed and then writes ".\r\n". Close does not
// close w.
func NewDotWriter(w io.Writer) io.WriteCloser {
	return &dotWriter{w: w, bol: true}
}

func (d *dotWriter) Write(p []byte) (int, error) {
	if d.closed {
		return 0, errors.New("smtp: write to closed DotWriter")
	}
	out := d.buf[:0]
	start := 0 // start of the run of p not yet copied to out
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\n' && d.lastCR:
			// The LF of a CR LF pair: the CR already produced the line end.
			out = append(out, p[start:i]...)
			start = i + 1
			d.lastCR = false
		case c == '\r' || c == '\n':
			out = append(out, p[start:i]...)
			out = append(out, '\r', '\n')
			start = i + 1
			d.lastCR = c == '\r'
			d.bol = true
		default:
			d.lastCR = false
			if d.bol && c == '.' {
				// RFC 5321 4.5.2: double a leading period.
				out = append(out, p[start:i]...)
				out = append(out, '.')
				start = i
			}
			d.bol = false
		}
	}
	out = append(out, p[start:]...)
	if cap(out) <= 64<<10 {
		d.buf = out
	}
	if _, err := d.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close terminates the content: a final CR LF when the content did not end
// with a line ending, then "." CR LF.
func (d *dotWriter) Close() error {
	if d.closed {
		return errors.New("smtp: DotWriter closed twice")
	}
	d.closed = true
	end := ".\r\n"
	if !d.bol {
		end = "\r\n.\r\n"
	}
	_, err := io.WriteString(d.w, end)
	return err
}
