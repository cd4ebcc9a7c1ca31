package console

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSubjectOf(t *testing.T) {
	for _, tt := range []struct{ header, want string }{
		{"Subject: hello\r\n", "hello"},
		{"From: a\r\nsubject:   spaced  \r\nTo: b\r\n", "spaced"},
		{"SUBJECT: folded\r\n  line\r\n\tthird\r\nTo: b\r\n", "folded  line\tthird"},
		{"Subject: =?utf-8?q?caf=C3=A9?=\r\n", "café"},
		{"Subject: =?iso-8859-1?q?caf=E9?=\n", "café"},
		{"Subject: =?koi8-r?q?=F0=D2?=\r\n", "=?koi8-r?q?=F0=D2?="},
		{"Subject: first\r\nSubject: second\r\n", "first"},
		{"X-Subject: no\r\n", ""},
		{"Subject:", ""},
		{"", ""},
		{"Subject: " + strings.Repeat("x", 1000) + "\r\n", strings.Repeat("x", maxSubject)},
	} {
		if got := subjectOf([]byte(tt.header)); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.header, got, tt.want)
		}
	}
}

func FuzzSubjectOf(f *testing.F) {
	f.Add([]byte("Subject: =?utf-8?q?caf=C3=A9?=\r\n folded\r\n"))
	f.Fuzz(func(t *testing.T, header []byte) {
		s := subjectOf(header)
		if len(s) > maxSubject {
			t.Fatalf("%d bytes", len(s))
		}
		_ = utf8.ValidString(s) // may be invalid: Visible shows it
	})
}

// TestWarm: the background pass reads the queued messages' subjects, so
// that a search finds them without reading the files.
func TestWarm(t *testing.T) {
	f := newFixture(t, nil)
	id := f.queue(t, "a@example.test", []string{"b@example.test"}, "Subject: warm me\r\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.c.Warm(ctx) // one pass, then the ended context stops it
	f.c.subjects.mu.Lock()
	got := f.c.subjects.m[id]
	f.c.subjects.mu.Unlock()
	if got != "warm me" {
		t.Fatalf("after Warm the cache has %q for %s", got, id)
	}
}
