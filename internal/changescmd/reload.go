package changescmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"postern/internal/changelog"
	"postern/internal/changewatch"
	"postern/internal/cliflags"
	"postern/internal/status"
)

const reloadUsage = `usage: postern reload [-config FILE]
  checks the config file completely (as postern check does), the maps and the
  users file, records each change, and asks the running server to reload:
  the maps and the users file apply at once when they pass their check;
  the config file takes effect at the next restart. Prints what was
  applied and what was rejected; exits 1 when something was rejected.`

// RunReload is `postern reload`.
func RunReload(args []string) int { return runReload(args, os.Stdout, os.Stderr) }

func runReload(args []string, stdout, errw io.Writer) int {
	fs, cfgPath := newFlags("reload", reloadUsage, errw)
	if _, code, done := cliflags.ParseN(fs, args, 0, 0); done {
		return code
	}
	t, err := open(*cfgPath, stdout, errw)
	if err != nil {
		fmt.Fprintln(errw, "postern reload:", err)
		return 1
	}
	before := newest(t.store)
	w := changewatch.New(t.store, t.files, nil)
	w.SetWho(changelog.CommandUser())
	w.Pass(true)
	fmt.Fprintln(stdout, t.askReload())
	// What this command and the server recorded meanwhile.
	list, err := t.store.List()
	if err != nil {
		fmt.Fprintln(errw, "postern reload:", err)
		return 1
	}
	code := 0
	for i := len(list) - 1; i >= 0; i-- {
		e := list[i]
		if e.N <= before {
			continue
		}
		fmt.Fprintf(stdout, "change %d: %s: %s\n", e.N, e.File, result(e, t.isConfig(e.File)))
		if !e.Applied {
			code = 1
			if f, ok := t.file(e.File); ok && f.Config {
				fmt.Fprintf(stdout, "  the server keeps running with the config it started with; %s\n", lastGood(t.store, e.File))
			} else {
				fmt.Fprintln(stdout, "  the running version stays")
			}
		}
	}
	if code == 0 && newest(t.store) == before {
		fmt.Fprintln(stdout, "no change since the last one recorded")
	}
	for _, e := range stillRejected(list, before) {
		fmt.Fprintf(stdout, "change %d: %s: still %s\n  the running version stays\n", e.N, e.File, result(e, false))
		code = 1
	}
	return code
}

// stillRejected are the files whose newest entry, older than this
// command, was rejected.
func stillRejected(list []changelog.Entry, before int) []changelog.Entry {
	seen := map[string]bool{}
	var out []changelog.Entry
	for _, e := range list {
		if seen[e.File] {
			continue
		}
		seen[e.File] = true
		if e.N <= before && !e.Applied {
			out = append(out, e)
		}
	}
	return out
}

func newest(s *changelog.Store) int {
	if l, err := s.List(); err == nil && len(l) > 0 {
		return l[0].N
	}
	return 0
}

func lastGood(s *changelog.Store, file string) string {
	if n := changewatch.LastGood(s, file); n > 0 {
		return fmt.Sprintf("fix the file, or put the last good version back with `postern rollback %d`", n)
	}
	return "fix the file"
}

// askReload asks the running server to reload (POST /reload on the
// admin listener) and says how it went.
func (t *target) askReload() string {
	return status.Reload(context.Background(), t.admin)
}
