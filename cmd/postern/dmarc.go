package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"postern/internal/dmarcreport"
	"postern/internal/privs"
)

// runDmarc is "postern dmarc report|import": reading the DMARC aggregate
// reports other receivers send about our domains.
func runDmarc(args []string) int {
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
	cfg, _, err := loadConfig(configFile)
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
	pos, err := parseFlags(fs, args)
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
	d, err := parseDays(*since)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern dmarc report: -since: %v\n", err)
		return 2
	}
	from := time.Now().Add(-d)
	store := dmarcreport.ReceivedStore{Dir: filepath.Join(dir, "dmarc", "received")}
	reports, err := store.Load(from)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern dmarc report: %v\n", err)
		if len(reports) == 0 {
			return 1
		}
	}
	sum := dmarcreport.Summarize(from, reports)
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return 1
		}
		return 0
	}
	if len(reports) == 0 {
		fmt.Printf("No DMARC aggregate reports received since %s (looked in %s).\n", from.UTC().Format(time.DateTime+" MST"), store.Dir)
		fmt.Println("Publish rua=mailto:ADDRESS in your _dmarc record and deliver that address's mail to 'postern dmarc import'.")
		return 0
	}
	sum.WriteText(os.Stdout)
	return 0
}

func runDmarcImport(args []string) int {
	fs := flag.NewFlagSet("dmarc import", flag.ContinueOnError)
	configFile, dataDir := dmarcCommonFlags(fs)
	pos, err := parseFlags(fs, args)
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
	status := dmarcImportFiles(store, pos)
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

// dmarcImportFiles stores the reports found in the files (- for stdin).
func dmarcImportFiles(store dmarcreport.ReceivedStore, pos []string) int {
	status := 0
	for _, p := range pos {
		var data []byte
		var err error
		if p == "-" {
			data, err = io.ReadAll(io.LimitReader(os.Stdin, dmarcreport.MaxReportBytes+1))
		} else {
			data, err = os.ReadFile(p)
		}
		if err == nil && len(data) > dmarcreport.MaxReportBytes {
			err = errors.New("larger than the report size limit")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "postern dmarc import: %s: %v\n", p, err)
			status = 1
			continue
		}
		fbs, err := dmarcreport.ExtractReports(data)
		if err != nil {
			fmt.Fprintf(os.Stderr, "postern dmarc import: %s: %v\n", p, err)
			status = 1
			continue
		}
		for _, f := range fbs {
			path, dup, err := store.Save(f)
			switch {
			case err != nil:
				fmt.Fprintf(os.Stderr, "postern dmarc import: %s: %v\n", p, err)
				status = 1
			case dup:
				fmt.Printf("%s: report %s from %s for %s already stored\n", p, f.Metadata.ReportID, f.Metadata.OrgName, f.Policy.Domain)
			default:
				fmt.Printf("%s: report %s from %s for %s: %d records -> %s\n", p, f.Metadata.ReportID, f.Metadata.OrgName, f.Policy.Domain, len(f.Records), path)
			}
			for _, pr := range f.Problems {
				fmt.Fprintf(os.Stderr, "postern dmarc import: %s: %s\n", p, pr)
			}
		}
	}
	return status
}

// parseDays is time.ParseDuration that also takes days ("7d").
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 || d > 100000 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration like 7d or 36h", s)
	}
	return d, nil
}
