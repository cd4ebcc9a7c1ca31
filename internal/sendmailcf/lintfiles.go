package sendmailcf

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// DefaultDir is where sendmail keeps its configuration.
const DefaultDir = "/etc/mail"

// LintReport is the lint of a sendmail setup read from files.
type LintReport struct {
	ConfigFile string // sendmail.mc or sendmail.cf
	Input      Input
	Findings   []Finding
}

// lintPaths works out the files to lint from the command line: none
// means DefaultDir; one directory stands for sendmail.mc (else
// sendmail.cf), access and relay-domains in it; otherwise the files are
// named, in that order. explicit marks the files named: those must be
// readable.
func lintPaths(pos []string) (cfg, access, relay string, explicit map[string]bool) {
	explicit = map[string]bool{}
	if len(pos) == 0 || len(pos) == 1 && isDir(pos[0]) {
		dir := DefaultDir
		if len(pos) == 1 {
			dir = pos[0]
		}
		cfg = filepath.Join(dir, "sendmail.mc")
		if _, err := os.Stat(cfg); err != nil {
			cfg = filepath.Join(dir, "sendmail.cf")
		}
		return cfg, filepath.Join(dir, "access"), filepath.Join(dir, "relay-domains"), explicit
	}
	cfg = pos[0]
	explicit[cfg] = true
	if len(pos) > 1 {
		access = pos[1]
		explicit[access] = true
	}
	if len(pos) > 2 {
		relay = pos[2]
		explicit[relay] = true
	}
	return cfg, access, relay, explicit
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// LintFiles reads and lints the setup the command line names ([sendmail.mc|
// sendmail.cf|DIR] [access] [relay-domains]; see lintPaths). problems are
// what could not be read or parsed; with fatal nothing was linted (a
// named file, or the configuration, could not be read).
func LintFiles(pos []string) (rep *LintReport, problems []error, fatal bool) {
	cfgPath, accessPath, relayPath, explicit := lintPaths(pos)
	read := func(p string) (string, bool) {
		if p == "" {
			return "", false
		}
		b, err := os.ReadFile(p)
		if err != nil {
			if explicit[p] || p == cfgPath {
				problems = append(problems, err)
			}
			return "", false
		}
		return string(b), true
	}
	rep = &LintReport{ConfigFile: cfgPath}
	src, ok := read(cfgPath)
	if !ok {
		return nil, problems, true
	}
	cfg, err := Parse(cfgPath, src)
	if err != nil {
		problems = append(problems, fmt.Errorf("%s: %v (findings below cover what was read)", cfgPath, err))
	}
	rep.Input.Config = cfg
	if src, ok := read(accessPath); ok {
		entries, errs := ReadMap(src)
		for _, e := range errs {
			problems = append(problems, fmt.Errorf("%s: %v", accessPath, e))
		}
		rep.Input.AccessFile, rep.Input.Access = accessPath, entries
	} else if explicit[accessPath] {
		return nil, problems, true
	}
	if src, ok := read(relayPath); ok {
		rep.Input.RelayFile, rep.Input.RelayDomains = relayPath, ReadList(src)
	} else if explicit[relayPath] {
		return nil, problems, true
	}
	rep.Findings = Lint(rep.Input)
	return rep, problems, false
}

// Status is the exit status of lint-sendmail: 2 with a failure, 1 with a
// warning, else 0.
func (r *LintReport) Status() int {
	status := 0
	for _, f := range r.Findings {
		switch f.Severity {
		case SevFail:
			status = 2
		case SevWarn:
			status = max(status, 1)
		}
	}
	return status
}

// WriteJSON writes {"findings": [...]}.
func (r *LintReport) WriteJSON(w io.Writer) error {
	findings := r.Findings
	if findings == nil {
		findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Findings []Finding `json:"findings"`
	}{findings})
}

// WriteText writes one finding a line, then how many there are in which
// files.
func (r *LintReport) WriteText(w io.Writer) {
	for _, f := range r.Findings {
		fmt.Fprintln(w, f.String())
	}
	fmt.Fprintf(w, "%d finding(s) in %s", len(r.Findings), r.ConfigFile)
	if r.Input.AccessFile != "" {
		fmt.Fprintf(w, ", %s", r.Input.AccessFile)
	}
	if r.Input.RelayFile != "" {
		fmt.Fprintf(w, ", %s", r.Input.RelayFile)
	}
	fmt.Fprintln(w)
}
