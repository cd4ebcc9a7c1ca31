// Package dmarccmd is the command line of postern dmarc report|import:
// its flags, the data dir they name, and the dmarcinbox work they run.
package dmarccmd

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"postern/internal/cliflags"
	"postern/internal/config"
	"postern/internal/dmarcinbox"
	"postern/internal/dmarcreport"
	"postern/internal/layout"
	"postern/internal/privs"
)

// configFlagHelp describes -config as every postern command does.
const configFlagHelp = "configuration `file` (default: $POSTERN_CONFIG, then " + layout.SystemConfig + " if it exists, then the embedded default)"

// Run is "postern dmarc report|import": reading the DMARC aggregate
// reports other receivers send about our domains.
func Run(args []string) int {
	if len(args) == 0 {
		dmarcUsage(os.Stderr)
		return 2
	}
	switch args[0] {
	case "report":
		return runDmarcReport(args[1:])
	case "import":
		return runDmarcImport(args[1:])
	case "-h", "-help", "--help", "help":
		dmarcUsage(os.Stdout)
		return 0
	}
	fmt.Fprintf(os.Stderr, "postern dmarc: unknown subcommand %q\n", args[0])
	dmarcUsage(os.Stderr)
	return 2
}

func dmarcUsage(w io.Writer) {
	fmt.Fprintln(w, `usage:
  postern dmarc report [-since 7d] [-json] [-config FILE] [-data-dir DIR]   summarise received aggregate reports
  postern dmarc import [-config FILE] [-data-dir DIR] FILE...               store report files or messages ("-" reads stdin)`)
}

// dmarcCommonFlags adds the flags every dmarc subcommand takes.
func dmarcCommonFlags(fs *flag.FlagSet) (configFile, dataDir *string) {
	configFile = fs.String("config", "", configFlagHelp+"; its data_dir is used")
	dataDir = fs.String("data-dir", "", "postern's data `directory`, instead of the configuration's data_dir (reports are in DIR/dmarc/received)")
	return
}

// dataDirFrom returns -data-dir when given, else the data_dir of the
// configuration (the embedded default without -config).
func dataDirFrom(cmd, configFile, dataDir string) (string, bool) {
	if dataDir != "" {
		return dataDir, true
	}
	cfg, _, err := config.Load(layout.ConfigFile(configFile))
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern %s: %v\n", cmd, err)
		return "", false
	}
	return cfg.DataDir, true
}

func runDmarcReport(args []string) int {
	fs := flag.NewFlagSet("dmarc report", flag.ContinueOnError)
	configFile, dataDir := dmarcCommonFlags(fs)
	since := fs.String("since", "7d", "period to summarise, e.g. 7d, 36h, 30d")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	pos, err := cliflags.Parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 0 {
		fmt.Fprintln(os.Stderr, "postern dmarc report: no arguments expected")
		return 2
	}
	dir, ok := dataDirFrom("dmarc report", *configFile, *dataDir)
	if !ok {
		return 1
	}
	d, err := dmarcinbox.ParseDays(*since)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern dmarc report: -since: %v\n", err)
		return 2
	}
	store := dmarcreport.ReceivedStore{Dir: filepath.Join(dir, "dmarc", "received")}
	if err := dmarcinbox.Summary(os.Stdout, os.Stderr, store, time.Now().Add(-d), *jsonOut); err != nil {
		fmt.Fprintf(os.Stderr, "postern dmarc report: %v\n", err)
		return 1
	}
	return 0
}

func runDmarcImport(args []string) int {
	fs := flag.NewFlagSet("dmarc import", flag.ContinueOnError)
	configFile, dataDir := dmarcCommonFlags(fs)
	pos, err := cliflags.Parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) == 0 {
		fmt.Fprintln(os.Stderr, "postern dmarc import: give report files or messages (- for stdin)")
		return 2
	}
	dir, ok := dataDirFrom("dmarc import", *configFile, *dataDir)
	if !ok {
		return 1
	}
	store := dmarcreport.ReceivedStore{Dir: filepath.Join(dir, "dmarc", "received")}
	status := 0
	if !dmarcinbox.Files(store, pos, os.Stdin, os.Stdout, os.Stderr) {
		status = 1
	}
	// Reports stored as root go to the data dir's owner, the server.
	owner, err := privs.OwnerOf(dir)
	if err == nil {
		err = owner.Give(filepath.Join(dir, "dmarc"))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern dmarc import: %v\n", err)
		status = 1
	}
	return status
}
