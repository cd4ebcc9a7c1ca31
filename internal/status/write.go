package status

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"postern/internal/metrics"
)

// Write writes the status screen of the server host, whose admin
// listener is admin ("" when off): st as the server reported it (live),
// or as the configuration and queue tell, with why the server did not
// answer.
func Write(w io.Writer, host, admin string, st metrics.Status, live bool, why string, now time.Time) {
	if live {
		fmt.Fprintf(w, "postern on %s: running since %s (%s)\n", st.Hostname, st.Started.Format(time.RFC3339), now.Sub(st.Started).Round(time.Second))
	} else {
		fmt.Fprintf(w, "postern on %s: NOT RUNNING or not reachable: %s\n", host, why)
	}
	if len(st.Problems) > 0 {
		fmt.Fprintln(w, "\nPROBLEMS:")
		for _, p := range st.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if st.Sandbox != "" {
		fmt.Fprintf(w, "\nSandbox: %s\n", st.Sandbox)
	}
	fmt.Fprintln(w, "\nListeners:")
	for _, l := range st.Listeners {
		fmt.Fprintf(w, "  %-12s %-11s %s\n", l.Name, l.Mode, l.Address)
	}
	if admin != "" {
		fmt.Fprintf(w, "  %-12s %-11s %s\n", "admin", "http", admin)
	}
	q := st.Queue
	fmt.Fprintf(w, "\nQueue: %d messages, %d deferred, %d held", q.Messages, q.Deferred, q.Held)
	if q.Messages > 0 {
		fmt.Fprintf(w, "; oldest %s", q.OldestAge.Round(time.Second))
	}
	if q.Deferred > 0 {
		fmt.Fprintf(w, ", oldest deferred %s", q.OldestDeferredAge.Round(time.Second))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "\nLimits in force:")
	keys := make([]string, 0, len(st.Limits))
	for k := range st.Limits {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-28s %s\n", k, st.Limits[k])
	}
	if live {
		fmt.Fprint(w, "\nOutbound alerts in force: ")
		if len(st.Alerts) == 0 {
			fmt.Fprintln(w, "none")
		} else {
			fmt.Fprintln(w, strings.Join(st.Alerts, ", "))
		}
		fmt.Fprintln(w, "\nRecent refusals (newest first):")
		if len(st.Rejects) == 0 {
			fmt.Fprintln(w, "  none since the server started")
		}
		for _, r := range st.Rejects {
			fmt.Fprintf(w, "  %s %-15s %-7s %d %s\n", r.Time.Local().Format("Jan _2 15:04:05"), r.Client, r.Stage, r.Code, shortLine(r.Rule, 90))
		}
	}
}

// shortLine keeps s to one line of at most n runes.
func shortLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
