package inbound

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// Replace may read the content it replaces; large content goes to a
// file, never wholly into memory; a failed rewrite leaves the content.
func TestMessageReplaceReadsItself(t *testing.T) {
	for _, tc := range replaceSizes {
		t.Run(tc.name, func(t *testing.T) {
			m := &Message{dir: t.TempDir()}
			orig := "Subject: s\r\n\r\n" + strings.Repeat("x", tc.size-16) + "\r\n"
			if _, err := io.WriteString(m, orig); err != nil {
				t.Fatal(err)
			}
			defer m.close()
			if err := m.Replace(io.MultiReader(strings.NewReader("X-New: 1\r\n"), m.Reader())); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(m.Reader())
			if err != nil {
				t.Fatal(err)
			}
			if want := "X-New: 1\r\n" + orig; string(got) != want || m.Size() != int64(len(want)) {
				t.Fatalf("content %d bytes (size %d), want %d", len(got), m.Size(), len(want))
			}
			if (m.file != nil) != tc.inFile || len(m.mem) > memLimit {
				t.Fatalf("in a file: %v, %d bytes in memory", m.file != nil, len(m.mem))
			}
			if m.Get("X-New") != "1" {
				t.Fatalf("header not reread: %q", m.Get("X-New"))
			}
			failed := errors.New("milter went away")
			err = m.Rewrite(func(w io.Writer) error {
				io.WriteString(w, "half")
				return failed
			})
			if !errors.Is(err, failed) || m.Size() != int64(len(got)) || m.Get("X-New") != "1" {
				t.Fatalf("after a failed rewrite: %v, size %d", err, m.Size())
			}
		})
	}
}

// replaceSizes are the contents TestMessageReplaceReadsItself rewrites:
// whether the new content must end in a file.
var replaceSizes = []struct {
	name   string
	size   int
	inFile bool
}{
	{"small", 100, false},
	{"at the memory limit", memLimit - len("X-New: 1\r\n"), false},
	{"large", 3 * memLimit, true},
}
