package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"postern/internal/cliflags"
	"postern/internal/configcheck"
)

// runCheck is `postern check [-config FILE]`: validate the configuration
// and everything it names without starting anything.
func runCheck(args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	configPath := fs.String("config", "", configFlagHelp)
	dnsRecords := fs.Bool("dns-records", false, "also compare what DNS holds with the records each local domain should publish (see postern dns-records); queries DNS")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern check [-config FILE] [-dns-records]\n\nValidates the configuration, the maps, the users file and the TLS files,\nreports every problem at once with its file and line, and warns about\ndangerous settings. Exits 1 when there is a problem.")
		fs.PrintDefaults()
	}
	pos, err := cliflags.Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		fs.Usage()
		return 2
	}
	rc := check(os.Stdout, os.Stderr, *configPath)
	if rc == 0 && *dnsRecords {
		rc = checkDNSRecords(os.Stdout, os.Stderr, *configPath)
	}
	return rc
}

// check loads the configuration at path and runs every check; problems
// and warnings go to errw, the verdict to w. It returns the exit status.
func check(w, errw io.Writer, path string) int {
	cfg, warnings, err := loadConfig(path)
	return configcheck.Run(w, errw, cfg, warnings, err)
}
