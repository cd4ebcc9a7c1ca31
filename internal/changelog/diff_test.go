package changelog

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// patch applies a unified diff made by Diff to old, checking every
// context and removed line against old.
func patch(old, diff string) (string, error) {
	a := splitLines(old)
	lines := splitLines(diff)
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "--- ") || !strings.HasPrefix(lines[1], "+++ ") {
		return "", fmt.Errorf("no header")
	}
	var out strings.Builder
	pos := 0
	for i := 2; i < len(lines); {
		var sa, na, sb, nb int
		if _, err := fmt.Sscanf(fixRange(lines[i]), "@@ -%d,%d +%d,%d @@", &sa, &na, &sb, &nb); err != nil {
			return "", fmt.Errorf("hunk header %q: %v", lines[i], err)
		}
		if na > 0 {
			sa--
		}
		if sa < pos || sa > len(a) {
			return "", fmt.Errorf("hunk at %d after %d", sa, pos)
		}
		for ; pos < sa; pos++ {
			out.WriteString(a[pos])
		}
		i++
		for i < len(lines) && !strings.HasPrefix(lines[i], "@@") {
			l := lines[i]
			text := l[1:]
			if i+1 < len(lines) && lines[i+1] == noNewline {
				text = strings.TrimSuffix(text, "\n")
				i++
			}
			switch l[0] {
			case ' ', '-':
				if pos >= len(a) || a[pos] != text {
					return "", fmt.Errorf("line %d: want %q, have %q", pos+1, text, a[pos:min(pos+1, len(a))])
				}
				pos++
				if l[0] == ' ' {
					out.WriteString(text)
				}
			case '+':
				out.WriteString(text)
			default:
				return "", fmt.Errorf("bad line %q", l)
			}
			i++
		}
	}
	for ; pos < len(a); pos++ {
		out.WriteString(a[pos])
	}
	return out.String(), nil
}

// fixRange writes "@@ -a +b @@" ranges with their count of one.
func fixRange(h string) string {
	f := strings.Fields(h)
	if len(f) < 4 {
		return h
	}
	for _, i := range []int{1, 2} {
		if !strings.Contains(f[i], ",") {
			f[i] += ",1"
		}
	}
	return strings.Join(f[:4], " ")
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"equal", "a\n", "a\n", ""},
		{"add to empty", "", "a\n", "--- o\n+++ n\n@@ -0,0 +1 @@\n+a\n"},
		{"remove all", "a\nb\n", "", "--- o\n+++ n\n@@ -1,2 +0,0 @@\n-a\n-b\n"},
		{"change middle", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n",
			"--- o\n+++ n\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n"},
		{"no newline", "a\nb", "a\nc", "--- o\n+++ n\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"},
		{"newline added", "a", "a\n", "--- o\n+++ n\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"},
		{"insert", "a\nc\n", "a\nb\nc\n", "--- o\n+++ n\n@@ -1,2 +1,3 @@\n a\n+b\n c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff("o", "n", tt.old, tt.new)
			if got != tt.want {
				t.Fatalf("Diff:\n%s\nwant:\n%s", got, tt.want)
			}
			if got == "" {
				return
			}
			back, err := patch(tt.old, got)
			if err != nil || back != tt.new {
				t.Fatalf("patch: %q, %v; want %q", back, err, tt.new)
			}
		})
	}
}

func TestDiffSeparateHunks(t *testing.T) {
	var old, new strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&old, "line %d\n", i)
		if i == 5 || i == 30 {
			fmt.Fprintf(&new, "changed %d\n", i)
		} else {
			fmt.Fprintf(&new, "line %d\n", i)
		}
	}
	d := Diff("o", "n", old.String(), new.String())
	if n := strings.Count(d, "@@ -"); n != 2 {
		t.Fatalf("%d hunks, want 2:\n%s", n, d)
	}
	if back, err := patch(old.String(), d); err != nil || back != new.String() {
		t.Fatalf("patch: %v", err)
	}
}

// A map of a million lines: a small edit is shown, a rewrite of every
// line is summarised, each in well under the time a reload may take.
func TestDiffHuge(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 1_000_000; i++ {
		b.WriteString("user" + strconv.Itoa(i) + "@example.com OK\n")
	}
	old := b.String()
	edited := strings.Replace(old, "user500000@example.com OK\n", "user500000@example.com REJECT\n", 1)
	start := time.Now()
	d := Diff("o", "n", old, edited)
	if !strings.Contains(d, "+user500000@example.com REJECT") {
		t.Fatalf("small edit not shown: %.200s", d)
	}
	rewritten := strings.ReplaceAll(old, " OK\n", " REJECT\n")
	d = Diff("o", "n", old, rewritten)
	if d != "1000000 lines changed, too large to show\n" {
		t.Fatalf("rewrite: %.200q", d)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("took %v", el)
	}
}

func FuzzDiff(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nc\nd\n")
	f.Add("", "x")
	f.Add("x\ny", "x\ny\n")
	f.Add("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "0\n1\n2\n4\n5\n6\n7\n8\n10\n11")
	f.Fuzz(func(t *testing.T, old, new string) {
		d := Diff("o", "n", old, new)
		if old == new {
			if d != "" {
				t.Fatalf("equal versions gave %q", d)
			}
			return
		}
		if strings.HasSuffix(d, "too large to show\n") {
			return
		}
		back, err := patch(old, d)
		if err != nil || back != new {
			t.Fatalf("patch(%q, %q) = %q, %v; want %q", old, d, back, err, new)
		}
	})
}
