package maps

import (
	"io"
	"io/fs"
	"strings"
	"unicode/utf8"
)

// maxLineLen bounds one physical line of a map file.
const maxLineLen = 64 * 1024

// rawLine is one physical line of a map file, without its line ending.
type rawLine struct {
	n    int
	text string
}

// readLines reads every line of r. CR LF and LF endings are both accepted.
// Lines holding NUL or invalid UTF-8 are reported and dropped; an over-long
// line ends the read with an error.
func readLines(r io.Reader, el *errList) []rawLine {
	var out []rawLine
	eachLine(r, el, func(ln rawLine) { out = append(out, ln) })
	return out
}

// eachLine is readLines calling fn with each line in turn instead of
// keeping them all.
func eachLine(r io.Reader, el *errList, fn func(rawLine)) {
	text, err := readText(r)
	eachLineOf(text, err, el, fn)
}

// eachLineOf calls fn with each line of text, read with the error err
// (nil when all of it was read), which it reports after the last line.
func eachLineOf(text string, err error, el *errList, fn func(rawLine)) {
	eachLineIn(text, el, fn)
	if err != nil && !el.stopped {
		el.add(countLines(text)+1, "read: %v", err)
	}
}

// maxTextHint bounds the room readText makes from a file's size.
const maxTextHint = 1 << 30

// readText reads all of r into one string. Every line, and every key and
// value cut from it, is a substring of it: a large map costs one
// allocation for its text instead of one a line.
func readText(r io.Reader) (string, error) {
	var b strings.Builder
	switch r := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader
		b.Grow(r.Len())
	case interface{ Stat() (fs.FileInfo, error) }: // os.File
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() < maxTextHint {
			b.Grow(int(fi.Size()))
		}
	}
	_, err := io.Copy(&b, r)
	return b.String(), err
}

// countLines is how many lines eachLineIn finds in text.
func countLines(text string) int {
	n := strings.Count(text, "\n")
	if text != "" && text[len(text)-1] != '\n' {
		n++
	}
	return n
}

// eachLineIn calls fn with each line of text. A line of maxLineLen bytes
// or more (its CRs included) ends the lines with an error and sets
// el.stopped; a line holding NUL or invalid UTF-8 is reported and skipped.
// One CR before the LF (or the end) is the line ending and one more is
// dropped too, as the scanner this replaces did.
func eachLineIn(text string, el *errList, fn func(rawLine)) {
	for n := 1; text != ""; n++ {
		t := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			t, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if len(t) >= maxLineLen {
			el.add(n, "line longer than %d bytes", maxLineLen)
			el.stopped = true
			return
		}
		t = strings.TrimSuffix(strings.TrimSuffix(t, "\r"), "\r")
		if strings.IndexByte(t, 0) >= 0 {
			el.add(n, "NUL byte in line")
			continue
		}
		if !utf8.ValidString(t) {
			el.add(n, "line is not valid UTF-8")
			continue
		}
		fn(rawLine{n: n, text: t})
	}
}

// skippable reports whether a line is blank or a comment. As in makemap,
// only a '#' that starts the line (after optional blanks) makes a comment;
// a '#' later in a line is part of the value.
func skippable(s string) bool {
	t := strings.TrimLeft(s, " \t")
	return t == "" || t[0] == '#'
}

// splitKV splits a map line into its key (the first word) and value (the
// rest, trimmed), as makemap does.
func splitKV(s string) (key, val string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i+1:])
}
