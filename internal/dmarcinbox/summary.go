package dmarcinbox

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"postern/internal/dmarcreport"
)

// Summary writes what the reports received since from (in store) say,
// as text or JSON. A store that could not be read whole is reported on
// errw; err is set when nothing could be read from it.
func Summary(out, errw io.Writer, store dmarcreport.ReceivedStore, from time.Time, asJSON bool) error {
	reports, err := store.Load(from)
	if err != nil {
		if len(reports) == 0 {
			return err
		}
		fmt.Fprintf(errw, "postern dmarc report: %v\n", err)
	}
	sum := dmarcreport.Summarize(from, reports)
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	if len(reports) == 0 {
		fmt.Fprintf(out, "No DMARC aggregate reports received since %s (looked in %s).\n", from.UTC().Format(time.DateTime+" MST"), store.Dir)
		fmt.Fprintln(out, "Publish rua=mailto:ADDRESS in your _dmarc record and deliver that address's mail to 'postern dmarc import'.")
		return nil
	}
	sum.WriteText(out)
	return nil
}
