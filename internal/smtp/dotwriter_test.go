package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// canonical is what a DotWriter followed by a DataReader must give back:
// every line ending (CR LF, bare LF, bare CR) as CR LF, and a final CR LF
// when the content is not empty and does not end with a line ending.
func canonical(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\n", "\r\n")
	if s != "" && !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

func TestDotWriter(t *testing.T) {
	cases := []struct{ in, out string }{
		{"", ".\r\n"},
		{"a", "a\r\n.\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a\n", "a\r\n.\r\n"},
		{"a\r", "a\r\n.\r\n"},
		{".", "..\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\r.\rb", "a\r\n..\r\nb\r\n.\r\n"},
		{"a.b\r\n", "a.b\r\n.\r\n"},
		{"\r\n", "\r\n.\r\n"},
		{"\n\r", "\r\n\r\n.\r\n"},
		{"\r\r\n", "\r\n\r\n.\r\n"},
		{"..x", "...x\r\n.\r\n"},
	}
	for _, c := range cases {
		// Whole, and one byte per Write so that state crosses Write calls.
		for _, split := range []bool{false, true} {
			var out bytes.Buffer
			w := NewDotWriter(&out)
			if split {
				for i := 0; i < len(c.in); i++ {
					if n, err := w.Write([]byte{c.in[i]}); n != 1 || err != nil {
						t.Fatalf("Write: %d %v", n, err)
					}
				}
			} else if n, err := w.Write([]byte(c.in)); n != len(c.in) || err != nil {
				t.Fatalf("Write: %d %v", n, err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.out {
				t.Errorf("DotWriter(%q, split %v) = %q, want %q", c.in, split, out.String(), c.out)
			}
		}
	}
	w := NewDotWriter(io.Discard)
	w.Close()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("second Close succeeded")
	}
	boom := errors.New("broken pipe")
	w = NewDotWriter(failWriter{boom})
	if _, err := w.Write([]byte("x")); err != boom {
		t.Errorf("Write error %v, want %v", err, boom)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestDotWriterRoundTrip(t *testing.T) {
	inputs := []string{
		"", "x", "hello\r\nworld\r\n", ".\r\n", "\r\n.\r\n", "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n",
		"..\r\n...\r\n", ".a\n.b\r.c\r\n", "line\rline\nline\r\nline", strings.Repeat("long line ", 500),
		"QUIT\r\n.\r\nMAIL FROM:<x@y>\r\n",
	}
	for _, in := range inputs {
		roundTrip(t, in)
	}
}

func roundTrip(t *testing.T, in string) {
	t.Helper()
	var wire bytes.Buffer
	w := NewDotWriter(&wire)
	io.WriteString(w, in)
	w.Close()
	wire.WriteString("NEXT")
	br := bufio.NewReaderSize(&wire, 16)
	got, err := io.ReadAll(NewDataReader(br, 0))
	if err != nil {
		t.Fatalf("round trip of %q: %v (wire %q)", in, err, wire.String())
	}
	if string(got) != canonical(in) {
		t.Fatalf("round trip of %q gave %q, want %q", in, got, canonical(in))
	}
	if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
		t.Fatalf("round trip of %q: stream left %q", in, rest)
	}
}
