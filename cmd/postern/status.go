package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"postern/internal/config"
	"postern/internal/metrics"
	"postern/internal/spool"
)

const statusUsage = `usage: postern status [-config FILE] [-json]

One screen about the server: listeners, queue, limits in force, alerts and
the latest refusals. It asks the running server through its admin
listener ([admin] address); when the server does not answer, it shows
what the configuration and the queue directory tell.`

func runStatus(args []string) int { return statusCmd(args, os.Stdout, os.Stderr) }

func statusCmd(args []string, out, errw io.Writer) int {
	fs := commandFlags("status", statusUsage, errw)
	configPath := fs.String("config", "", configFlagHelp)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if _, code, done := parseArgs(fs, args, 0, 0); done {
		return code
	}
	cfg, _, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	st, live, why := fetchStatus(cfg)
	if !live {
		st = staticStatus(cfg, time.Time{})
		items, err := spool.List(cfg.SpoolDir())
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(errw, "postern status: queue: %v\n", err)
		}
		st.Queue = queueStats(items, time.Now())
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Running bool `json:"running"`
			metrics.Status
		}{live, st})
		return 0
	}
	printStatus(out, cfg, st, live, why, time.Now())
	return 0
}

// fetchStatus asks the running server; why says why it could not.
func fetchStatus(cfg *config.Config) (metrics.Status, bool, string) {
	var st metrics.Status
	if cfg.Admin.Address == "" {
		return st, false, "the admin listener is off ([admin] address = \"\")"
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + cfg.Admin.Address + "/status")
	if err != nil {
		return st, false, "no answer on " + cfg.Admin.Address
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, false, cfg.Admin.Address + " answered " + resp.Status
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&st); err != nil {
		return st, false, "bad status from " + cfg.Admin.Address + ": " + err.Error()
	}
	return st, true, ""
}

func printStatus(w io.Writer, cfg *config.Config, st metrics.Status, live bool, why string, now time.Time) {
	if live {
		fmt.Fprintf(w, "postern on %s: running since %s (%s)\n", st.Hostname, st.Started.Format(time.RFC3339), now.Sub(st.Started).Round(time.Second))
	} else {
		fmt.Fprintf(w, "postern on %s: NOT RUNNING or not reachable: %s\n", cfg.Hostname, why)
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
	if cfg.Admin.Address != "" {
		fmt.Fprintf(w, "  %-12s %-11s %s\n", "admin", "http", cfg.Admin.Address)
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
