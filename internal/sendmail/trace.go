package sendmail

import (
	"fmt"
	"io"
	"net"
	"strings"
	"unicode/utf8"
)

// traceConn shows the SMTP conversation (-v): commands and replies,
// not the message.
type traceConn struct {
	net.Conn
	w      io.Writer
	inData bool
}

func (t *traceConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		for _, l := range strings.SplitAfter(string(p[:n]), "\n") {
			if l != "" {
				fmt.Fprintf(t.w, "<<< %s", printable(l))
			}
		}
	}
	return n, err
}

func (t *traceConn) Write(p []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(p), "\n") {
		switch {
		case l == "":
		case t.inData:
			if l == ".\r\n" {
				t.inData = false
				fmt.Fprintf(t.w, ">>> .\n")
			}
		default:
			fmt.Fprintf(t.w, ">>> %s", printable(l))
			if strings.EqualFold(strings.TrimSpace(l), "DATA") {
				t.inData = true
				fmt.Fprintf(t.w, ">>> (message)\n")
			}
		}
	}
	return t.Conn.Write(p)
}

func printable(l string) string {
	l = strings.TrimRight(l, "\r\n")
	if !utf8.ValidString(l) {
		l = strings.ToValidUTF8(l, "?")
	}
	return oneLine(l) + "\n"
}
