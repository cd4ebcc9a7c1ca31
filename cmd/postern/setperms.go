package main

import (
	"fmt"
	"io"
	"os"

	"postern/internal/cliflags"
	"postern/internal/layout"
	"postern/internal/privs"
)

const setPermsUsage = `usage: postern set-permissions [-config FILE] [-n]

Repairs an installation, as Postfix's command of the same name does: the
data dir and everything in it (users, DKIM keys, spool, DMARC data, the
generated certificate) are given to the configured user and closed to
everyone else, and the maps become readable by that user (through its
group) and writable by their owner only. Prints each change. Run it as
root; -n only says what it would change. Then run postern check.`

func runSetPerms(args []string) int { return setPermsCmd(args, os.Stdout, os.Stderr) }

func setPermsCmd(args []string, out, errw io.Writer) int {
	fs := cliflags.New("set-permissions", setPermsUsage, errw)
	configPath := fs.String("config", "", configFlagHelp)
	dry := fs.Bool("n", false, "only print what would change")
	if _, code, done := cliflags.ParseN(fs, args, 0, 0); done {
		return code
	}
	cfg, _, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(errw, "postern set-permissions: run it as root (it changes owners)")
		return 1
	}
	owner, err := serverOwner(cfg)
	if err == nil && !owner.IsSet() {
		err = fmt.Errorf("the configuration sets no user to give the files to")
	}
	if err != nil {
		fmt.Fprintf(errw, "postern set-permissions: %v\n", err)
		return 1
	}
	var readable []string
	if cfg.MapsDir != "" {
		readable = append([]string{cfg.MapsDir}, layout.MapFiles(cfg)...)
	}
	changes, err := privs.Repair(owner, cfg.DataDir, readable, *dry)
	for _, c := range changes {
		fmt.Fprintln(out, c)
	}
	if err != nil {
		fmt.Fprintf(errw, "postern set-permissions: %v\n", err)
		return 1
	}
	verb := "changed"
	if *dry {
		verb = "would change"
	}
	fmt.Fprintf(out, "set-permissions: %s %d paths for %s\n", verb, len(changes), owner.Name)
	return 0
}
