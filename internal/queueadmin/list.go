// Package queueadmin is the queue as `postern queue` (and mailq) shows
// and changes it: the listing of what waits, and the actions (flush,
// hold, release, remove, bounce) sent to the running server through its
// control socket, or carried out on the spool directly when no server
// runs.
package queueadmin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"
	"time"

	"postern/internal/spool"
)

// List shows the queue in dir: as one JSON array of spool.Item, or as
// WriteList's text followed by the files set aside as corrupt. A spool
// that does not exist yet is an empty queue (said on errw).
func List(out, errw io.Writer, dir string, asJSON bool, now time.Time) error {
	items, err := spool.List(dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(errw, "postern queue: no spool at %s yet\n", dir)
		items, err = nil, nil
	}
	if err != nil {
		return err
	}
	if asJSON {
		if items == nil {
			items = []spool.Item{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	}
	WriteList(out, items, now)
	if bad, err := spool.ListCorrupt(dir); err == nil && len(bad) > 0 {
		fmt.Fprintf(out, "%d file(s) set aside as corrupt, not delivered: %s\n", len(bad), strings.Join(bad, " "))
	}
	return nil
}

// WriteList writes the queue listing: one line per message with its id,
// age, size, sender, the recipients still to be delivered and the last
// delivery error, then the totals.
func WriteList(out io.Writer, items []spool.Item, now time.Time) {
	if len(items) == 0 {
		fmt.Fprintln(out, "queue is empty")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAGE\tSIZE\tSENDER\tRECIPIENTS\tLAST ERROR")
	var total int64
	for _, it := range items {
		total += it.Size
		age := "-"
		if !it.Arrived.IsZero() {
			age = ShortDuration(now.Sub(it.Arrived))
		}
		from := it.From
		if from == "" {
			from = "<>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", it.ID, age, it.Size, OneLine(from),
			OneLine(strings.Join(it.Rcpts, ",")), OneLine(lastError(it)))
	}
	tw.Flush()
	fmt.Fprintf(out, "%d message(s), %d bytes\n", len(items), total)
}

// lastError is the LAST ERROR column: the error with its number of
// tries, marked when the message is held or in the slow lane.
func lastError(it spool.Item) string {
	last := it.LastError
	if last == "" {
		last = "-"
	} else if it.Attempts > 0 {
		last = fmt.Sprintf("(%d tries) %s", it.Attempts, last)
	}
	if it.Held {
		last = "(held) " + last
	} else if it.Slow {
		last = "(slow lane) " + last
	}
	return last
}

// ShortDuration prints an age the way queue listings do: 45s, 12m, 3h, 2d.
func ShortDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// OneLine keeps a value on its line: control characters (an error text
// may hold newlines, an address anything) are shown escaped.
func OneLine(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}
