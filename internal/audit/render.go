package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON (layout in docs/audit.md).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// TextOptions tune the terminal rendering.
type TextOptions struct {
	Colour   bool // ANSI colours (only when writing to a terminal)
	Evidence bool // show the evidence of passed checks too
}

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31;1m"
	ansiYellow = "\x1b[33;1m"
	ansiGreen  = "\x1b[32m"
	ansiGrey   = "\x1b[90m"
)

// WriteText writes the report for a person at a terminal: one line per
// check, then for each warning and failure the detail, the evidence and
// the fix.
func (r *Report) WriteText(w io.Writer, o TextOptions) error {
	tag := func(s Status) string {
		label := strings.ToUpper(string(s))
		if !o.Colour {
			return fmt.Sprintf("[%-4s]", label)
		}
		col := map[Status]string{Pass: ansiGreen, Warn: ansiYellow, Fail: ansiRed, Skip: ansiGrey}[s]
		return "[" + col + fmt.Sprintf("%-4s", label) + ansiReset + "]"
	}
	b := &strings.Builder{}
	fmt.Fprintf(b, "postern audit of %s", sanitize(r.Target))
	if r.Domain != "" {
		fmt.Fprintf(b, " (domain %s)", r.Domain)
	}
	fmt.Fprintf(b, "\n\n")
	for _, c := range r.Checks {
		fmt.Fprintf(b, "%s %-28s %s\n", tag(c.Status), c.ID, sanitize(c.Title))
		fmt.Fprintf(b, "       %s\n", sanitize(c.Detail))
		if c.Status == Pass || c.Status == Skip {
			if !o.Evidence {
				continue
			}
		}
		if len(c.Probes) > 0 && c.Status != Pass {
			for _, p := range c.Probes {
				if p.Verdict == Pass {
					continue
				}
				fmt.Fprintf(b, "       probe %-26s %s %s -> %s\n", p.Name, sanitize(p.From), sanitize(p.To), sanitize(p.Reply))
			}
		}
		if c.Fix != "" {
			fmt.Fprintf(b, "       fix: %s\n", c.Fix)
		}
		if len(c.Evidence) > 0 {
			fmt.Fprintf(b, "       evidence:\n")
			for _, e := range c.Evidence {
				fmt.Fprintf(b, "         %s\n", sanitize(e))
			}
		}
	}
	s := r.Summary
	fmt.Fprintf(b, "\n%d passed, %d warnings, %d failed, %d skipped; score %d%%\n", s.Pass, s.Warn, s.Fail, s.Skip, s.Score)
	_, err := io.WriteString(w, b.String())
	return err
}

// sanitize keeps server-supplied text from driving the terminal.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}
