package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readData runs a DataReader over input with a bufio buffer of size buf
// (0: default) and returns the content, the final error (nil for a clean
// end) and what is left on the stream afterwards.
func readData(t testing.TB, input string, buf int, max int64, src func(io.Reader) io.Reader) (content string, err error, rest string) {
	var r io.Reader = strings.NewReader(input)
	if src != nil {
		r = src(r)
	}
	br := bufio.NewReaderSize(r, max16(buf))
	d := NewDataReader(br, max)
	var out bytes.Buffer
	p := make([]byte, 7) // small reads exercise the pending logic
	for {
		n, e := d.Read(p)
		out.Write(p[:n])
		if e == io.EOF {
			break
		}
		if e != nil {
			err = e
			break
		}
		if n == 0 {
			t.Fatalf("Read returned 0, nil")
		}
	}
	// Further reads keep returning the same outcome.
	if n, e := d.Read(p); n != 0 || (err == nil && e != io.EOF) || (err != nil && e != err) {
		t.Fatalf("Read after end = %d, %v; first outcome %v", n, e, err)
	}
	restb, _ := io.ReadAll(br)
	return out.String(), err, string(restb)
}

func max16(n int) int {
	if n < 16 {
		return 4096
	}
	return n
}

// checkClean asserts the invariant of returned content: every CR is
// followed by LF, every LF preceded by CR, no NUL.
func checkClean(t testing.TB, content string) {
	t.Helper()
	for i := 0; i < len(content); i++ {
		switch content[i] {
		case '\r':
			if i+1 >= len(content) || content[i+1] != '\n' {
				t.Fatalf("bare CR at %d in returned content %q", i, content)
			}
		case '\n':
			if i == 0 || content[i-1] != '\r' {
				t.Fatalf("bare LF at %d in returned content %q", i, content)
			}
		case 0:
			t.Fatalf("NUL at %d in returned content %q", i, content)
		}
	}
}

func replyCode(err error) int {
	var r *Reply
	if errors.As(err, &r) {
		return r.Code
	}
	return 0
}

func TestDataReaderBasic(t *testing.T) {
	cases := []struct {
		in      string
		content string
		code    int
	}{
		{".\r\nNEXT", "", 0},
		{"\r\n.\r\nNEXT", "\r\n", 0},
		{"a\r\n.\r\nNEXT", "a\r\n", 0},
		{"a\r\nb\r\n.\r\nNEXT", "a\r\nb\r\n", 0},
		{"..\r\n.\r\nNEXT", ".\r\n", 0},
		{"...\r\n.\r\nNEXT", "..\r\n", 0},
		{".a\r\n.\r\nNEXT", "a\r\n", 0},
		{"a\r\n..\r\nb\r\n.\r\nNEXT", "a\r\n.\r\nb\r\n", 0},
		{"a.\r\n.b\r\n.\r\nNEXT", "a.\r\nb\r\n", 0},
		{" .\r\n.\r\nNEXT", " .\r\n", 0},
		{"a\r\n\r\n\r\n.\r\nNEXT", "a\r\n\r\n\r\n", 0},
		{"caf\xc3\xa9 \xff\r\n.\r\nNEXT", "caf\xc3\xa9 \xff\r\n", 0},
		{"a\nb\r\n.\r\nNEXT", "", 550},
		{"a\rb\r\n.\r\nNEXT", "", 550},
		{"a\r\r\n.\r\nNEXT", "", 550},
		{"\n.\r\nNEXT\r\n.\r\nNEXT", "", 550},
		{"a\x00b\r\n.\r\nNEXT", "", 550},
		{"\x00\r\n.\r\nNEXT", "", 550},
		{".\n.\r\n\r\n.\r\nNEXT", "", 550},
		{".\r.\r\n.\r\nNEXT", "", 550},
		{"a\r\r\n.\r\nNEXT", "", 550},
		{"a\x00\r\n.\r\nNEXT", "", 550},
		{"\r.\r\n.\r\nNEXT", "", 550},
	}
	for _, c := range cases {
		for _, buf := range []int{16, 17, 18, 19, 4096} {
			content, err, rest := readData(t, c.in, buf, 0, nil)
			checkClean(t, content)
			if got := replyCode(err); got != c.code || (c.code == 0 && err != nil) {
				t.Errorf("%q (buf %d): error %v, want code %d", c.in, buf, err, c.code)
			}
			if c.code == 0 && content != c.content {
				t.Errorf("%q (buf %d): content %q, want %q", c.in, buf, content, c.content)
			}
			if rest != "NEXT" {
				t.Errorf("%q (buf %d): rest %q, want %q", c.in, buf, rest, "NEXT")
			}
		}
	}
}

// The SMTP smuggling lookalike endings (CVE-2023-51764..6): none of them
// ends the message. Each either stays in the content or gets the message
// rejected, and in both cases exactly one message ends, at the real marker.
func TestDataReaderSmuggling(t *testing.T) {
	lookalikes := []struct {
		name   string
		ending string
		reject bool
	}{
		{`\n.\n`, "\n.\n", true},
		{`\n.\r\n`, "\n.\r\n", true},
		{`\r\n.\n`, "\r\n.\n", true},
		{`\r.\r`, "\r.\r", true},
		{`\r.\n`, "\r.\n", true},
		{`\n.\r`, "\n.\r", true},
		{`\r.\r\n`, "\r.\r\n", true},
		{`\r\n.\r`, "\r\n.\r", true},
		{`\r\n.\r\r\n`, "\r\n.\r\r\n", true},
		{`\r\n\x00.\r\n`, "\r\n\x00.\r\n", true},
		{`\r\n.\x00\r\n`, "\r\n.\x00\r\n", true},
		{`\r\n..\r\n`, "\r\n..\r\n", false},
		{`\r\n .\r\n`, "\r\n .\r\n", false},
		{`\r\n.\t\r\n`, "\r\n.\t\r\n", false},
	}
	const smuggled = "MAIL FROM:<spoof@victim.example>\r\nRCPT TO:<target@victim.example>\r\nDATA\r\nFrom: spoof@victim.example\r\n\r\nsmuggled\r\n"
	for _, l := range lookalikes {
		input := "From: a@example.com\r\n\r\nhello" + l.ending + smuggled + ".\r\nQUIT\r\n"
		for _, buf := range []int{16, 17, 20, 23, 31, 64, 4096} {
			for si, src := range []func(io.Reader) io.Reader{nil, iotest.OneByteReader, iotest.HalfReader} {
				name := fmt.Sprintf("%s/buf%d/src%d", l.name, buf, si)
				content, err, rest := readData(t, input, buf, 0, src)
				checkClean(t, content)
				if rest != "QUIT\r\n" {
					t.Errorf("%s: stream after the message is %q, want %q", name, rest, "QUIT\r\n")
				}
				if l.reject {
					if c := replyCode(err); c < 500 || c > 599 {
						t.Errorf("%s: error %v, want a 5xx reply", name, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: unexpected error %v", name, err)
				}
				if !strings.Contains(content, "smuggled\r\n") || !strings.Contains(content, "MAIL FROM:<spoof") {
					t.Errorf("%s: smuggled bytes not kept in the content: %q", name, content)
				}
			}
		}
	}
}

// Lines of every length around the buffer size, so that a CR LF or the
// marker falls across the boundary of a buffer fill.
func TestDataReaderBoundaries(t *testing.T) {
	for _, buf := range []int{16, 17} {
		for n := 1; n < 3*buf; n++ {
			line := strings.Repeat("x", n)
			for _, src := range []func(io.Reader) io.Reader{nil, iotest.OneByteReader} {
				in := line + "\r\n" + "." + line + "\r\n.\r\nNEXT"
				content, err, rest := readData(t, in, buf, 0, src)
				want := line + "\r\n" + line + "\r\n"
				if err != nil || content != want || rest != "NEXT" {
					t.Fatalf("buf %d len %d: %q %v %q", buf, n, content, err, rest)
				}
				// A bare CR placed at every position near the boundary.
				in = line + "\r" + line + "\r\n.\r\nNEXT"
				content, err, rest = readData(t, in, buf, 0, src)
				checkClean(t, content)
				if replyCode(err) != 550 || rest != "NEXT" {
					t.Fatalf("bare CR, buf %d len %d: %v %q", buf, n, err, rest)
				}
				// And a bare LF.
				in = line + "\n" + line + "\r\n.\r\nNEXT"
				content, err, rest = readData(t, in, buf, 0, src)
				checkClean(t, content)
				if replyCode(err) != 550 || rest != "NEXT" {
					t.Fatalf("bare LF, buf %d len %d: %v %q", buf, n, err, rest)
				}
			}
		}
	}
}

func TestDataReaderSize(t *testing.T) {
	body := "0123456789\r\n" // 12 bytes
	in := body + body + ".\r\nNEXT"
	for _, c := range []struct {
		max  int64
		code int
	}{{0, 0}, {24, 0}, {100, 0}, {23, 552}, {12, 552}, {1, 552}} {
		content, err, rest := readData(t, in, 16, c.max, nil)
		if replyCode(err) != c.code || (c.code == 0 && (err != nil || content != body+body)) {
			t.Errorf("max %d: content %q err %v, want code %d", c.max, content, err, c.code)
		}
		if c.code == 552 {
			var r *Reply
			if errors.As(err, &r); r.Enhanced != "5.3.4" {
				t.Errorf("max %d: %v, want 5.3.4", c.max, err)
			}
		}
		if rest != "NEXT" {
			t.Errorf("max %d: rest %q", c.max, rest)
		}
	}
	// Dot-stuffing is not counted: the content is "." CR LF, 3 bytes.
	if _, err, _ := readData(t, "..\r\n.\r\n", 0, 3, nil); err != nil {
		t.Errorf("dot-stuffed line counted with its extra dot: %v", err)
	}
}

func TestDataReaderTruncated(t *testing.T) {
	for _, in := range []string{"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", "a\nb", "a\nb\r\n.\n"} {
		_, err, _ := readData(t, in, 16, 0, nil)
		if err == io.EOF || !errors.Is(err, ErrTruncatedData) || !errors.Is(err, io.EOF) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: error %v, want ErrTruncatedData", in, err)
		}
	}
	// Errors of the underlying reader come through as they are.
	boom := errors.New("i/o timeout")
	r := io.MultiReader(strings.NewReader("abc\r\nde"), iotest.ErrReader(boom))
	d := NewDataReader(bufio.NewReaderSize(r, 16), 0)
	if _, err := io.ReadAll(d); err != boom {
		t.Errorf("got %v, want %v", err, boom)
	}
	r = io.MultiReader(strings.NewReader("a\nbc\r\nde"), iotest.ErrReader(boom))
	d = NewDataReader(bufio.NewReaderSize(r, 16), 0)
	if _, err := io.ReadAll(d); err != boom {
		t.Errorf("in discard: got %v, want %v", err, boom)
	}
}

func TestDataReaderDiscard(t *testing.T) {
	in := "line one\r\nline two\r\n..\r\nline four\r\n.\r\nNEXT"
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	d := NewDataReader(br, 0)
	p := make([]byte, 4)
	if n, err := d.Read(p); n != 4 || err != nil || string(p) != "line" {
		t.Fatalf("Read: %d %v %q", n, err, p)
	}
	if err := d.Discard(); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
		t.Fatalf("rest %q", rest)
	}
	if n, err := d.Read(p); n != 0 || err != io.EOF {
		t.Fatalf("Read after Discard: %d %v", n, err)
	}
	// Bad content after the point where the consumer stopped.
	br = bufio.NewReaderSize(strings.NewReader("ok\r\nbad\n.\r\nstill\r\n.\r\nNEXT"), 16)
	d = NewDataReader(br, 0)
	d.Read(p)
	if err := d.Discard(); replyCode(err) != 550 {
		t.Fatalf("Discard: %v, want 550", err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
		t.Fatalf("rest %q", rest)
	}
	// Discard right away, and twice.
	br = bufio.NewReaderSize(strings.NewReader("a\r\n.\r\nNEXT"), 16)
	d = NewDataReader(br, 0)
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
		t.Fatalf("rest %q", rest)
	}
}

// Two messages back to back on one stream: each reader stops at its own marker.
func TestDataReaderPipelined(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("one\r\n.\r\ntwo\n.\n\r\n.\r\nthree\r\n.\r\n"), 16)
	want := []struct {
		content string
		code    int
	}{{"one\r\n", 0}, {"", 550}, {"three\r\n", 0}}
	for i, w := range want {
		b, err := io.ReadAll(NewDataReader(br, 0))
		if replyCode(err) != w.code || w.code == 0 && string(b) != w.content {
			t.Errorf("message %d: %q %v", i, b, err)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("stream not at its end: %v", err)
	}
}

func BenchmarkDataReader(b *testing.B) {
	var msg bytes.Buffer
	for msg.Len() < 5*1024 {
		msg.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod t\r\n")
		msg.WriteString("..stuffed line\r\n")
	}
	msg.WriteString(".\r\n")
	in := msg.Bytes()
	rd := bytes.NewReader(in)
	br := bufio.NewReader(rd)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(in)
		br.Reset(rd)
		if _, err := io.Copy(io.Discard, NewDataReader(br, 0)); err != nil {
			b.Fatal(err)
		}
	}
}
