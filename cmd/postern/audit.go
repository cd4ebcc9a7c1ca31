package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"golang.org/x/term"

	"postern/internal/audit"
	"postern/internal/audit/auditflags"
	"postern/internal/cliflags"
	"postern/internal/config"
)

// runAudit is "postern audit HOST[:PORT]": the hardening checklist run
// against any SMTP server. Exit status: 0 all passed, 1 warnings,
// 2 failures (or the audit could not run), so CI can gate on it.
func runAudit(args []string) int {
	f := auditflags.New()
	pos, err := cliflags.Parse(f.FS, args)
	if err != nil {
		return 2
	}
	f.Parsed()
	if f.ConfigPath() != "" {
		cfg, _, err := loadConfig(f.ConfigPath())
		if err != nil {
			fmt.Fprintf(os.Stderr, "postern audit: %v\n", err)
			return 2
		}
		pos = f.Own(ownServer(cfg), pos)
	}
	if len(pos) != 1 {
		f.FS.Usage()
		return 2
	}
	opt, ok := f.Options(pos[0], os.Stderr)
	if !ok {
		return 2
	}
	return auditRun(opt, f.JSON(), f.Verbose())
}

// ownServer is what the configuration says about this postern.
func ownServer(cfg *config.Config) auditflags.Server {
	s := auditflags.Server{LocalDomains: cfg.LocalDomains, DNSServers: cfg.DNS.Servers, Hostname: cfg.Hostname}
	for _, l := range cfg.Listeners {
		switch l.Mode {
		case config.ModeMTA:
			s.MTA = append(s.MTA, l.Address)
		case config.ModeSubmission:
			s.Submission = append(s.Submission, l.Address)
		}
	}
	return s
}

// auditRun runs the audit and prints its report.
func auditRun(opt audit.Options, jsonOut, verbose bool) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := audit.Run(ctx, log, opt)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern audit: %v\n", err)
		if errors.Is(err, audit.ErrNotLoopback) {
			fmt.Fprintln(os.Stderr, "Add -allow-remote to audit a server on a real network (only servers you are responsible for).")
		}
		return 2
	}
	if jsonOut {
		if err := rep.WriteJSON(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "postern audit: %v\n", err)
			return 2
		}
	} else {
		colour := term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == ""
		rep.WriteText(os.Stdout, audit.TextOptions{Colour: colour, Evidence: verbose})
	}
	return rep.ExitStatus()
}
