package changelog

import (
	"fmt"
	"strings"
)

// Bounds of Diff: past them it says how many lines changed instead of
// showing them, so that a huge map never takes minutes or gigabytes.
const (
	// maxEdits is the most lines added and removed a shown diff holds.
	maxEdits = 2000
	// maxSteps bounds the work of the search (lines compared).
	maxSteps = 50_000_000
)

// context is the number of unchanged lines shown around each change.
const contextLines = 3

// noNewline marks a last line without a line end, as diff(1) does.
const noNewline = "\\ No newline at end of file\n"

// splitLines cuts s into lines that keep their "\n" (the last one may
// have none).
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// op is one line of the edit script: ' ' kept, '-' removed, '+' added,
// with the line's index in the old (a) or new (b) version.
type op struct {
	kind byte
	a, b int
}

// Diff returns a unified diff from old to new (with three lines of
// context, as diff -u), named oldName and newName in its header; "" when
// they are equal. When the change is too large to show it returns one
// line saying how many lines changed.
func Diff(oldName, newName, old, new string) string {
	if old == new {
		return ""
	}
	a, b := splitLines(old), splitLines(new)
	ops, ok := editScript(a, b)
	if !ok {
		return fmt.Sprintf("%d lines changed, too large to show\n", changedLines(a, b))
	}
	var w strings.Builder
	fmt.Fprintf(&w, "--- %s\n+++ %s\n", oldName, newName)
	writeHunks(&w, ops, a, b)
	return w.String()
}

// changedLines is the larger of the two middles left when the common
// beginning and end are taken away.
func changedLines(a, b []string) int {
	p, s := commonEnds(a, b)
	return max(len(a)-p-s, len(b)-p-s)
}

// commonEnds counts the lines a and b share at their beginning and, of
// the rest, at their end.
func commonEnds(a, b []string) (prefix, suffix int) {
	for prefix < len(a) && prefix < len(b) && a[prefix] == b[prefix] {
		prefix++
	}
	for suffix < len(a)-prefix && suffix < len(b)-prefix && a[len(a)-1-suffix] == b[len(b)-1-suffix] {
		suffix++
	}
	return prefix, suffix
}

// writeHunks writes the hunks of ops: each change with up to three
// lines of context, hunks closer than that merged.
func writeHunks(w *strings.Builder, ops []op, a, b []string) {
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-contextLines, 0)
		end := i
		// Extend while the next change is within two contexts.
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j + 1
			} else if j-end >= 2*contextLines {
				break
			}
		}
		end = min(end+contextLines, len(ops))
		writeHunk(w, ops[start:end], a, b)
		i = end
	}
}

func writeHunk(w *strings.Builder, ops []op, a, b []string) {
	var na, nb int
	for _, o := range ops {
		if o.kind != '+' {
			na++
		}
		if o.kind != '-' {
			nb++
		}
	}
	fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(ops[0].a, na), hunkRange(ops[0].b, nb))
	for _, o := range ops {
		line := ""
		if o.kind == '+' {
			line = b[o.b]
		} else {
			line = a[o.a]
		}
		w.WriteByte(o.kind)
		w.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			w.WriteString("\n" + noNewline)
		}
	}
}

// hunkRange is "start,count" with diff -u's conventions: lines count
// from 1, and an empty range names the line before it.
func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}
