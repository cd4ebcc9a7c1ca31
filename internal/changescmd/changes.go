package changescmd

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"postern/internal/changelog"
	"postern/internal/cliflags"
)

const changesUsage = `usage: postern changes list | show N [-config FILE]
  list     every recorded change of the config file, the maps and the users file, newest first
  show N   change N: who, when, the result of its check and its diff`

// RunChanges is `postern changes`.
func RunChanges(args []string) int { return runChanges(args, os.Stdout, os.Stderr) }

func runChanges(args []string, stdout, errw io.Writer) int {
	fs, cfgPath := newFlags("changes", changesUsage, errw)
	pos, code, done := cliflags.ParseN(fs, args, 1, 2)
	if done {
		return code
	}
	n, ok := parseN(fs, pos, "show")
	if !ok {
		return 2
	}
	t, err := open(*cfgPath, stdout, errw)
	if err != nil {
		fmt.Fprintln(errw, "postern changes:", err)
		return 1
	}
	if pos[0] == "list" {
		return t.list()
	}
	e, err := t.store.Get(n)
	if err != nil {
		fmt.Fprintln(errw, "postern changes:", err)
		return 1
	}
	writeEntry(stdout, e, t.isConfig(e.File))
	return 0
}

// newFlags starts a command's flag set with its -config flag.
func newFlags(name, usage string, errw io.Writer) (*flag.FlagSet, *string) {
	fs := cliflags.New(name, usage, errw)
	return fs, fs.String("config", "", "the configuration file (default: $POSTERN_CONFIG, then /etc/postern/postern.toml)")
}

// parseN checks the subcommand (list, or verb N) and returns N.
func parseN(fs *flag.FlagSet, pos []string, verb string) (int, bool) {
	if len(pos) == 1 && pos[0] == "list" {
		return 0, true
	}
	if len(pos) == 2 && pos[0] == verb {
		if n, err := strconv.Atoi(pos[1]); err == nil && n > 0 {
			return n, true
		}
	}
	fs.Usage()
	return 0, false
}

func (t *target) isConfig(file string) bool { return file == t.path }

func (t *target) list() int {
	list, err := t.store.List()
	if err != nil {
		fmt.Fprintln(t.errw, "postern changes:", err)
		return 1
	}
	if len(list) == 0 {
		fmt.Fprintf(t.stdout, "no changes recorded in %s yet\n", t.store.Dir())
		return 0
	}
	tw := tabwriter.NewWriter(t.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "N\tTIME\tFILE\tWHO\tKIND\tRESULT")
	for _, e := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.N, e.Time.Format("2006-01-02 15:04:05Z"), e.File, e.Who, e.Kind,
			result(e, t.isConfig(e.File)))
	}
	tw.Flush()
	return 0
}

// result is an entry's outcome in a few words.
func result(e changelog.Entry, config bool) string {
	switch {
	case !e.Applied:
		l, _, _ := strings.Cut(e.Check, "\n")
		return "rejected: " + l
	case config:
		return "ok (takes effect at the next restart)"
	default:
		return "applied"
	}
}

func writeEntry(w io.Writer, e changelog.Entry, config bool) {
	fmt.Fprintf(w, "change %d: %s\n", e.N, e.File)
	fmt.Fprintf(w, "time:   %s\nwho:    %s\nkind:   %s\nresult: %s\n", e.Time.Format("2006-01-02 15:04:05Z"), e.Who, e.Kind,
		result(e, config))
	fmt.Fprintf(w, "check:\n")
	for _, l := range strings.Split(e.Check, "\n") {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if e.Diff == "" {
		fmt.Fprintln(w, "diff: none (the first version recorded)")
		return
	}
	fmt.Fprintf(w, "diff:\n%s", e.Diff)
}
