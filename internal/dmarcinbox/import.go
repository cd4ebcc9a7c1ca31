// Package dmarcinbox is the DMARC aggregate reports other receivers send
// about our domains, as the operator handles them: Files stores them
// from report files or the messages that carried them (`postern dmarc
// import`), Summary tells what those received in a period say (`postern
// dmarc report`). Storing and summing up are internal/dmarcreport's.
package dmarcinbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"postern/internal/dmarcreport"
)

// Files stores the aggregate reports found in the files named (report
// files, compressed or not, or messages carrying them; "-" reads stdin):
// what was stored goes to out, problems to errw. ok is false when
// something could not be read or stored.
func Files(store dmarcreport.ReceivedStore, names []string, stdin io.Reader, out, errw io.Writer) (ok bool) {
	ok = true
	for _, p := range names {
		var data []byte
		var err error
		if p == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, dmarcreport.MaxReportBytes+1))
		} else {
			data, err = os.ReadFile(p)
		}
		if err == nil && len(data) > dmarcreport.MaxReportBytes {
			err = errors.New("larger than the report size limit")
		}
		if err != nil {
			fmt.Fprintf(errw, "postern dmarc import: %s: %v\n", p, err)
			ok = false
			continue
		}
		fbs, err := dmarcreport.ExtractReports(data)
		if err != nil {
			fmt.Fprintf(errw, "postern dmarc import: %s: %v\n", p, err)
			ok = false
			continue
		}
		for _, f := range fbs {
			path, dup, err := store.Save(f)
			switch {
			case err != nil:
				fmt.Fprintf(errw, "postern dmarc import: %s: %v\n", p, err)
				ok = false
			case dup:
				fmt.Fprintf(out, "%s: report %s from %s for %s already stored\n", p, f.Metadata.ReportID, f.Metadata.OrgName, f.Policy.Domain)
			default:
				fmt.Fprintf(out, "%s: report %s from %s for %s: %d records -> %s\n", p, f.Metadata.ReportID, f.Metadata.OrgName, f.Policy.Domain, len(f.Records), path)
			}
			for _, pr := range f.Problems {
				fmt.Fprintf(errw, "postern dmarc import: %s: %s\n", p, pr)
			}
		}
	}
	return ok
}

// ParseDays is time.ParseDuration that also takes days ("7d").
func ParseDays(s string) (time.Duration, error) {
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
