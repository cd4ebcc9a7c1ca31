package main

import (
	"flag"
	"fmt"
	"os"

	"postern/internal/cliflags"
	"postern/internal/sendmailcf"
)

// runLintSendmail is "postern lint-sendmail [sendmail.mc|sendmail.cf]
// [access] [relay-domains]": it flags the settings the hardening guides
// call dangerous, each with its line and the fix. A directory argument
// stands for the three files in it. Exit status: 0 clean, 1 warnings,
// 2 failures or unreadable input.
func runLintSendmail(args []string) int {
	fs := flag.NewFlagSet("lint-sendmail", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern lint-sendmail [sendmail.mc|sendmail.cf|DIR] [access] [relay-domains] [-json]")
		fs.PrintDefaults()
	}
	fs.String("config", "", "config file (not needed by the linter; accepted like every command)")
	jsonOut := fs.Bool("json", false, "print the findings as JSON")
	pos, err := cliflags.Parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 3 {
		fs.Usage()
		return 2
	}
	rep, problems, fatal := sendmailcf.LintFiles(pos)
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "postern lint-sendmail: %v\n", p)
	}
	if fatal {
		return 2
	}
	if *jsonOut {
		rep.WriteJSON(os.Stdout)
	} else {
		rep.WriteText(os.Stdout)
	}
	return rep.Status()
}
