package deliver

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
)

func convert(t testing.TB, in string, quote bool) string {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	if err := copyLines(bw, strings.NewReader(in), quote); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	return b.String()
}

func TestMboxQuoting(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Subject: x\r\n\r\nhello\r\n", "Subject: x\n\nhello\n"},
		{"From line", "a\r\nFrom me\r\n", "a\n>From me\n"},
		{"quoted From", "a\r\n>From me\r\n", "a\n>>From me\n"},
		{"twice quoted", "a\r\n>>From me\r\n", "a\n>>>From me\n"},
		{"From at start", "From x\r\n", ">From x\n"},
		{"no space after From", "Fromage\r\n", "Fromage\n"},
		{"lower-case from", "from me\r\n", "from me\n"},
		{"indented From", " From me\r\n", " From me\n"},
		{"quote without From", ">> hi\r\n", ">> hi\n"},
		{"From without space at end", "a\r\nFrom", "a\nFrom\n"},
		{"no final newline", "a\r\nb", "a\nb\n"},
		{"lone CR kept", "a\rb\r\n", "a\rb\n"},
		{"LF only", "a\nFrom b\n", "a\n>From b\n"},
		{"empty", "", ""},
		{"empty lines", "\r\n\r\nFrom x\r\n", "\n\n>From x\n"},
		{"CR at the end", "a\r", "a\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := convert(t, tc.in, true); got != tc.want {
				t.Errorf("quoted %q = %q, want %q", tc.in, got, tc.want)
			}
			// Unquoted (Maildir): only the line endings change.
			want := strings.ReplaceAll(tc.in, "\r\n", "\n")
			if want != "" && !strings.HasSuffix(want, "\n") {
				want += "\n"
			}
			if got := convert(t, tc.in, false); got != want {
				t.Errorf("unquoted %q = %q, want %q", tc.in, got, want)
			}
		})
	}
}

// Lines longer than the read buffer, with a CRLF split across reads.
func TestCopyLinesLong(t *testing.T) {
	long := strings.Repeat("x", 32<<10-1) + "\r\nFrom y\r\n" + strings.Repeat(">", 40000) + "From z\r\n"
	got := convert(t, long, true)
	want := strings.Repeat("x", 32<<10-1) + "\n>From y\n" + strings.Repeat(">", 40001) + "From z\n"
	if got != want {
		t.Errorf("long lines converted wrongly (len %d, want %d)", len(got), len(want))
	}
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	if err := copyLines(bw, iotest.OneByteReader(strings.NewReader("a\r\nFrom b\r\n>From c\r\n")), true); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if b.String() != "a\n>From b\n>>From c\n" {
		t.Errorf("one byte at a time: %q", b.String())
	}
}

var fromLine = regexp.MustCompile(`(?m)^>*From `)

// unquote is what an mboxrd reader does.
func unquote(s string) string {
	return fromLine.ReplaceAllStringFunc(s, func(m string) string { return m[1:] })
}

func FuzzCopyLines(f *testing.F) {
	f.Add("Subject: x\r\n\r\nFrom me\r\n>From you\r\n")
	f.Add("a\rb\r\n\r")
	f.Add(">>>>")
	f.Fuzz(func(t *testing.T, in string) {
		got := convert(t, in, true)
		// No line of the output starts with "From ".
		if strings.HasPrefix(got, "From ") || strings.Contains(got, "\nFrom ") {
			t.Fatalf("unquoted From_ line in %q", got)
		}
		// A reader gets back the LF form of the input.
		want := strings.ReplaceAll(in, "\r\n", "\n")
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if back := unquote(got); back != want {
			t.Fatalf("round trip of %q: %q, want %q", in, back, want)
		}
	})
}
