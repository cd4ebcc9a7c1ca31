package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/term"

	"postern/internal/audit"
	"postern/internal/cliflags"
	"postern/internal/config"
	pdns "postern/internal/dns"
)

// auditFlags are the flags of postern audit.
type auditFlags struct {
	fs                                               *flag.FlagSet
	configPath, domain, from, dnsServer, relayDomain *string
	tlsName, caFile, selectors, dnsbls, smugRcpt     *string
	submission                                       *int
	jsonOut, remote, smuggling, verbose              *bool
	timeout                                          *time.Duration
	set                                              map[string]bool // the flags given
}

func newAuditFlags() *auditFlags {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern audit HOST[:PORT] [-domain D] [-submission PORT] [-json] [-from IP] [flags]\n       postern audit -config FILE [flags]   (audit this postern's own mta listener)")
		fs.PrintDefaults()
	}
	return &auditFlags{
		fs:          fs,
		configPath:  fs.String("config", "", "postern config: audit its own mta listener, with its first local domain, DNS servers and host name as defaults"),
		domain:      fs.String("domain", "", "mail domain whose DNS records (MX, SPF, DKIM, DMARC, MTA-STS, TLSRPT) are checked"),
		submission:  fs.Int("submission", 587, "submission port to check for STARTTLS and AUTH (0 to skip)"),
		jsonOut:     fs.Bool("json", false, "print the report as JSON"),
		from:        fs.String("from", "", "source IP for our connections (pick one the server does not trust, or relay probes prove nothing)"),
		dnsServer:   fs.String("dns", "", "DNS server HOST:PORT for the DNS checks (default: /etc/resolv.conf)"),
		relayDomain: fs.String("relay-test-domain", "relay-test.invalid", "foreign recipient domain of the relay probes (must not be local to the target)"),
		remote:      fs.Bool("allow-remote", false, "allow a target outside 127.0.0.0/8 and ::1 (a real network audit)"),
		tlsName:     fs.String("tls-name", "", "name the certificate must be valid for (default: the banner's host name)"),
		caFile:      fs.String("ca", "", "PEM file of CA certificates to trust instead of the system roots"),
		selectors:   fs.String("dkim-selector", "", "comma-separated DKIM selectors to check"),
		dnsbls:      fs.String("dnsbl", "zen.spamhaus.org,bl.spamcop.net", "comma-separated DNSBL zones to look the server's address up in (\"\" for none; by default none for a loopback target)"),
		smuggling:   fs.Bool("smuggling", false, "probe SMTP smuggling (sends real messages to -smuggling-rcpt)"),
		smugRcpt:    fs.String("smuggling-rcpt", "", "local recipient for the smuggling probe messages"),
		timeout:     fs.Duration("timeout", 20*time.Second, "timeout for each network step"),
		verbose:     fs.Bool("v", false, "show evidence of passed checks too"),
		set:         map[string]bool{},
	}
}

// runAudit is "postern audit HOST[:PORT]": the hardening checklist run
// against any SMTP server. Exit status: 0 all passed, 1 warnings,
// 2 failures (or the audit could not run), so CI can gate on it.
func runAudit(args []string) int {
	f := newAuditFlags()
	pos, err := cliflags.Parse(f.fs, args)
	if err != nil {
		return 2
	}
	f.fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if *f.configPath != "" {
		cfg, _, err := loadConfig(*f.configPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "postern audit: %v\n", err)
			return 2
		}
		pos = f.ownServer(cfg, pos)
	}
	if len(pos) != 1 {
		f.fs.Usage()
		return 2
	}
	opt, ok := f.options(pos[0])
	if !ok {
		return 2
	}
	return auditRun(opt, *f.jsonOut, *f.verbose)
}

// ownServer takes the defaults of the flags not given from a postern
// configuration: its mta listener as the target, its submission port,
// first local domain, first DNS server and host name.
func (f *auditFlags) ownServer(cfg *config.Config, pos []string) []string {
	var mta, sub []string
	for _, l := range cfg.Listeners {
		switch l.Mode {
		case config.ModeMTA:
			mta = append(mta, l.Address)
		case config.ModeSubmission:
			sub = append(sub, l.Address)
		}
	}
	own := audit.OwnServer(mta, sub, cfg.LocalDomains)
	if len(pos) == 0 && own.Target != "" {
		pos = []string{own.Target}
	}
	if !f.set["submission"] && own.Submission >= 0 {
		*f.submission = own.Submission
	}
	if !f.set["domain"] {
		*f.domain = own.Domain
	}
	if !f.set["dns"] && len(cfg.DNS.Servers) > 0 {
		*f.dnsServer = cfg.DNS.Servers[0]
	}
	if !f.set["tls-name"] {
		*f.tlsName = cfg.Hostname
	}
	return pos
}

// options turns the flags into the audit's options; problems are
// reported, and ok is false.
func (f *auditFlags) options(target string) (opt audit.Options, ok bool) {
	opt = audit.Options{
		Target:          target,
		SubmissionPort:  *f.submission,
		Domain:          *f.domain,
		RelayTestDomain: *f.relayDomain,
		AllowRemote:     *f.remote,
		TLSName:         *f.tlsName,
		DKIMSelectors:   auditList(*f.selectors),
		DNSBLs:          auditList(*f.dnsbls),
		Smuggling:       *f.smuggling,
		SmugglingRcpt:   *f.smugRcpt,
		Timeout:         *f.timeout,
	}
	if !f.set["dnsbl"] && audit.LoopbackTarget(opt.Target) {
		opt.DNSBLs = nil
	}
	if *f.smuggling && *f.smugRcpt == "" {
		fmt.Fprintln(os.Stderr, "postern audit: -smuggling needs -smuggling-rcpt ADDRESS (a local mailbox that may receive test messages)")
		return opt, false
	}
	if *f.from != "" {
		if opt.From = net.ParseIP(*f.from); opt.From == nil {
			fmt.Fprintf(os.Stderr, "postern audit: -from %q is not an IP address\n", *f.from)
			return opt, false
		}
	}
	if *f.caFile != "" {
		var err error
		if opt.RootCAs, err = audit.ReadRootCAs(*f.caFile); err != nil {
			fmt.Fprintf(os.Stderr, "postern audit: %v\n", err)
			return opt, false
		}
	}
	var servers []string
	if *f.dnsServer != "" {
		servers = []string{*f.dnsServer}
	}
	opt.Resolver = pdns.New(pdns.Options{Servers: servers})
	return opt, true
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

// auditList splits a comma-separated flag value, dropping empty items.
func auditList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
