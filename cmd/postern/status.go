package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"postern/internal/cliflags"
	"postern/internal/metrics"
	"postern/internal/spool"
	"postern/internal/status"
)

const statusUsage = `usage: postern status [-config FILE] [-json]

One screen about the server: listeners, queue, limits in force, alerts and
the latest refusals. It asks the running server through its admin
listener ([admin] address); when the server does not answer, it shows
what the configuration and the queue directory tell.`

func runStatus(args []string) int { return statusCmd(args, os.Stdout, os.Stderr) }

func statusCmd(args []string, out, errw io.Writer) int {
	fs := cliflags.New("status", statusUsage, errw)
	configPath := fs.String("config", "", configFlagHelp)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if _, code, done := cliflags.ParseN(fs, args, 0, 0); done {
		return code
	}
	cfg, _, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	st, live, why := status.Fetch(context.Background(), status.AdminOf(cfg))
	if !live {
		st = status.Static(cfg, time.Time{})
		items, err := spool.List(cfg.SpoolDir())
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(errw, "postern status: queue: %v\n", err)
		}
		st.Queue = status.QueueStats(items, time.Now())
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
	status.Write(out, cfg.Hostname, cfg.Admin.Address, st, live, why, time.Now())
	return 0
}
