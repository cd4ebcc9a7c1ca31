package maps

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Source is where an entry was defined.
type Source struct {
	File string // path as given to the parser
	Line int    // 1-based line number; for aliases, the line holding the name
}

// String gives "file:line".
func (s Source) String() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// Human gives the form used by explanations: "access line 12".
func (s Source) Human() string {
	return fmt.Sprintf("%s line %d", filepath.Base(s.File), s.Line)
}

// ParseError is one problem in a map file.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ParseErrors holds every problem found in one parse. A parser that finds
// any returns them all as one ParseErrors value.
type ParseErrors []*ParseError

func (e ParseErrors) Error() string {
	var b strings.Builder
	for i, pe := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(pe.Error())
	}
	return b.String()
}

// Warning is something legal but dangerous or ignored, for `postern check`.
type Warning struct {
	Source Source
	Msg    string
}

func (w Warning) String() string { return w.Source.String() + ": " + w.Msg }

// errList collects parse errors for one file.
type errList struct {
	file    string
	errs    ParseErrors
	stopped bool // the lines ended early (a line too long): no read error follows
}

func (l *errList) add(line int, format string, args ...any) {
	l.errs = append(l.errs, &ParseError{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
	return l.errs
}
