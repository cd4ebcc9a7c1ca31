package changescmd

import (
	"fmt"
	"io"
	"os"
	"strings"

	"postern/internal/changelog"
	"postern/internal/cliflags"
)

const rollbackUsage = `usage: postern rollback N [-config FILE]
  puts back the version of the file that change N recorded, when it passes
  today's check; the running server then applies it (a map, the users file)
  or uses it at its next start (the config file). The rollback is recorded.`

// RunRollback is `postern rollback`.
func RunRollback(args []string) int { return runRollback(args, os.Stdout, os.Stderr) }

func runRollback(args []string, stdout, errw io.Writer) int {
	fs, cfgPath := newFlags("rollback", rollbackUsage, errw)
	pos, code, done := cliflags.ParseN(fs, args, 1, 1)
	if done {
		return code
	}
	n, ok := parseN(fs, []string{"rollback", pos[0]}, "rollback")
	if !ok {
		return 2
	}
	t, err := open(*cfgPath, stdout, errw)
	if err == nil {
		err = t.rollback(n)
	}
	if err != nil {
		fmt.Fprintln(errw, "postern rollback:", err)
		return 1
	}
	return 0
}

func (t *target) rollback(n int) error {
	e, err := t.store.Get(n)
	if err != nil {
		return err
	}
	f, ok := t.file(e.File)
	if !ok {
		return fmt.Errorf("change %d is of %s, which the configuration %s does not name", n, e.File, t.path)
	}
	data, err := t.store.Data(n)
	if err != nil {
		return err
	}
	if problems := f.Check(f.Path, data); len(problems) > 0 {
		return fmt.Errorf("the version of change %d does not pass today's check, not put back:\n%s", n, strings.Join(problems, "\n"))
	}
	if err := changelog.Replace(f.Path, data); err != nil {
		return err
	}
	r, _, err := t.store.Record(changelog.Version{File: e.File, Data: data, Who: changelog.CommandUser(), Kind: "rollback",
		Applied: true, Check: "ok", Redact: f.Redact})
	if err != nil {
		return fmt.Errorf("%s put back, but not recorded: %w", e.File, err)
	}
	fmt.Fprintf(t.stdout, "%s put back to the version of change %d (recorded as change %d)\n", e.File, n, r.N)
	if f.Config {
		fmt.Fprintln(t.stdout, "the config file takes effect at the next restart")
		return nil
	}
	fmt.Fprintln(t.stdout, t.askReload())
	return nil
}
