package maps

import (
	"bufio"
	"errors"
	"io"
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
// keeping them all: a large map's parser holds one line at a time.
func eachLine(r io.Reader, el *errList, fn func(rawLine)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	n := 0
	for sc.Scan() {
		n++
		t := strings.TrimSuffix(sc.Text(), "\r")
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
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			el.add(n+1, "line longer than %d bytes", maxLineLen)
		} else {
			el.add(n+1, "read: %v", err)
		}
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
