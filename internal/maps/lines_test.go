package maps

import (
	"fmt"
	"strings"
	"testing"
)

// TestEachLine pins how map files are cut into lines: LF and CR LF
// endings, a last line without an ending, blank lines, NUL and invalid
// UTF-8, and the longest line accepted.
func TestEachLine(t *testing.T) {
	long := strings.Repeat("a", maxLineLen-1)
	tooLong := strings.Repeat("a", maxLineLen)
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"one line", "a\n", "1:a"},
		{"no last ending", "a\nb", "1:a|2:b"},
		{"CR LF", "a\r\nb\r\n", "1:a|2:b"},
		{"two CRs", "a\r\r\nb", "1:a|2:b"},
		{"three CRs", "a\r\r\r\n", "1:a\r"},
		{"CR at end", "a\r", "1:a"},
		{"two CRs at end", "a\r\r", "1:a"},
		{"lone CR inside", "a\rb\n", "1:a\rb"},
		{"blank lines", "\n\n", "1:|2:"},
		{"NUL", "x\x00y\nz\n", "E1:NUL byte in line|2:z"},
		{"invalid UTF-8", "\xff\nz", "E1:line is not valid UTF-8|2:z"},
		{"longest line", long + "\nb", fmt.Sprintf("1:%d|2:b", len(long))},
		{"longest line at end", long, fmt.Sprintf("1:%d", len(long))},
		{"too long", tooLong + "\nb\n", fmt.Sprintf("E1:line longer than %d bytes", maxLineLen)},
		{"too long at end", "ok\n" + tooLong, fmt.Sprintf("1:ok|E2:line longer than %d bytes", maxLineLen)},
		{"too long with CR", long + "\r\nb", fmt.Sprintf("E1:line longer than %d bytes", maxLineLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := &errList{file: "f"}
			var got []string
			eachLine(strings.NewReader(tt.in), el, func(ln rawLine) {
				s := ln.text
				if len(s) > 100 {
					s = fmt.Sprint(len(s))
				}
				got = append(got, fmt.Sprintf("%d:%s", ln.n, s))
			})
			for _, e := range el.errs {
				got = append(got, fmt.Sprintf("E%d:%s", e.Line, e.Msg))
			}
			// Errors and lines in line order, as a parser reports them.
			if g := strings.Join(sortByLine(got), "|"); g != tt.want {
				t.Errorf("got %q, want %q", g, tt.want)
			}
		})
	}
}

// sortByLine orders "n:..." and "En:..." items by n, stably.
func sortByLine(items []string) []string {
	num := func(s string) int {
		var n int
		fmt.Sscanf(strings.TrimPrefix(s, "E"), "%d", &n)
		return n
	}
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && num(items[j]) < num(items[j-1]); j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
	return items
}
