package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

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
	pos, err := parseFlags(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 3 {
		fs.Usage()
		return 2
	}
	cfgPath, accessPath, relayPath := "", "", ""
	explicit := map[string]bool{}
	switch {
	case len(pos) == 0:
		pos = []string{"/etc/mail"}
		fallthrough
	case len(pos) == 1 && lintIsDir(pos[0]):
		dir := pos[0]
		cfgPath = filepath.Join(dir, "sendmail.mc")
		if _, err := os.Stat(cfgPath); err != nil {
			cfgPath = filepath.Join(dir, "sendmail.cf")
		}
		accessPath = filepath.Join(dir, "access")
		relayPath = filepath.Join(dir, "relay-domains")
	default:
		cfgPath = pos[0]
		explicit[cfgPath] = true
		if len(pos) > 1 {
			accessPath = pos[1]
			explicit[accessPath] = true
		}
		if len(pos) > 2 {
			relayPath = pos[2]
			explicit[relayPath] = true
		}
	}
	in := sendmailcf.Input{}
	read := func(p string) (string, bool) {
		if p == "" {
			return "", false
		}
		b, err := os.ReadFile(p)
		if err != nil {
			if explicit[p] || p == cfgPath {
				fmt.Fprintf(os.Stderr, "postern lint-sendmail: %v\n", err)
			}
			return "", false
		}
		return string(b), true
	}
	src, ok := read(cfgPath)
	if !ok {
		return 2
	}
	cfg, err := sendmailcf.Parse(cfgPath, src)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern lint-sendmail: %s: %v (findings below cover what was read)\n", cfgPath, err)
	}
	in.Config = cfg
	if src, ok := read(accessPath); ok {
		entries, errs := sendmailcf.ReadMap(src)
		for _, e := range errs {
			fmt.Fprintf(os.Stderr, "postern lint-sendmail: %s: %v\n", accessPath, e)
		}
		in.AccessFile, in.Access = accessPath, entries
	} else if explicit[accessPath] {
		return 2
	}
	if src, ok := read(relayPath); ok {
		in.RelayFile, in.RelayDomains = relayPath, sendmailcf.ReadList(src)
	} else if explicit[relayPath] {
		return 2
	}
	findings := sendmailcf.Lint(in)
	status := 0
	for _, f := range findings {
		switch f.Severity {
		case sendmailcf.SevFail:
			status = 2
		case sendmailcf.SevWarn:
			status = max(status, 1)
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if findings == nil {
			findings = []sendmailcf.Finding{}
		}
		enc.Encode(struct {
			Findings []sendmailcf.Finding `json:"findings"`
		}{findings})
		return status
	}
	for _, f := range findings {
		fmt.Println(f.String())
	}
	fmt.Printf("%d finding(s) in %s", len(findings), cfgPath)
	if in.AccessFile != "" {
		fmt.Printf(", %s", in.AccessFile)
	}
	if in.RelayFile != "" {
		fmt.Printf(", %s", in.RelayFile)
	}
	fmt.Println()
	return status
}

func lintIsDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
