package main

import (
	"context"
	"crypto/x509"
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
	"postern/internal/config"
	pdns "postern/internal/dns"
)

// runAudit is "postern audit HOST[:PORT]": the hardening checklist run
// against any SMTP server. Exit status: 0 all passed, 1 warnings,
// 2 failures (or the audit could not run), so CI can gate on it.
func runAudit(args []string) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern audit HOST[:PORT] [-domain D] [-submission PORT] [-json] [-from IP] [flags]\n       postern audit -config FILE [flags]   (audit this postern's own mta listener)")
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "postern config: audit its own mta listener, with its first local domain, DNS servers and host name as defaults")
	domain := fs.String("domain", "", "mail domain whose DNS records (MX, SPF, DKIM, DMARC, MTA-STS, TLSRPT) are checked")
	submission := fs.Int("submission", 587, "submission port to check for STARTTLS and AUTH (0 to skip)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	from := fs.String("from", "", "source IP for our connections (pick one the server does not trust, or relay probes prove nothing)")
	dnsServer := fs.String("dns", "", "DNS server HOST:PORT for the DNS checks (default: /etc/resolv.conf)")
	relayDomain := fs.String("relay-test-domain", "relay-test.invalid", "foreign recipient domain of the relay probes (must not be local to the target)")
	remote := fs.Bool("allow-remote", false, "allow a target outside 127.0.0.0/8 and ::1 (a real network audit)")
	tlsName := fs.String("tls-name", "", "name the certificate must be valid for (default: the banner's host name)")
	caFile := fs.String("ca", "", "PEM file of CA certificates to trust instead of the system roots")
	selectors := fs.String("dkim-selector", "", "comma-separated DKIM selectors to check")
	dnsbls := fs.String("dnsbl", "zen.spamhaus.org,bl.spamcop.net", "comma-separated DNSBL zones to look the server's address up in (\"\" for none; by default none for a loopback target)")
	smuggling := fs.Bool("smuggling", false, "probe SMTP smuggling (sends real messages to -smuggling-rcpt)")
	smugRcpt := fs.String("smuggling-rcpt", "", "local recipient for the smuggling probe messages")
	timeout := fs.Duration("timeout", 20*time.Second, "timeout for each network step")
	verbose := fs.Bool("v", false, "show evidence of passed checks too")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *configPath != "" {
		cfg, _, err := loadConfig(*configPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "postern audit: %v\n", err)
			return 2
		}
		d := auditDefaultsFrom(cfg)
		if len(pos) == 0 && d.target != "" {
			pos = []string{d.target}
		}
		if !set["submission"] && d.submission >= 0 {
			*submission = d.submission
		}
		if !set["domain"] {
			*domain = d.domain
		}
		if !set["dns"] && len(cfg.DNS.Servers) > 0 {
			*dnsServer = cfg.DNS.Servers[0]
		}
		if !set["tls-name"] {
			*tlsName = cfg.Hostname
		}
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	opt := audit.Options{
		Target:          pos[0],
		SubmissionPort:  *submission,
		Domain:          *domain,
		RelayTestDomain: *relayDomain,
		AllowRemote:     *remote,
		TLSName:         *tlsName,
		DKIMSelectors:   auditList(*selectors),
		DNSBLs:          auditList(*dnsbls),
		Smuggling:       *smuggling,
		SmugglingRcpt:   *smugRcpt,
		Timeout:         *timeout,
	}
	if !set["dnsbl"] {
		// A loopback address is on no public blocklist; the default
		// lists would only answer with their test entries (127.0.0.2).
		if h, _, err := net.SplitHostPort(opt.Target); err == nil {
			if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
				opt.DNSBLs = nil
			}
		} else if ip := net.ParseIP(opt.Target); ip != nil && ip.IsLoopback() {
			opt.DNSBLs = nil
		}
	}
	if *smuggling && *smugRcpt == "" {
		fmt.Fprintln(os.Stderr, "postern audit: -smuggling needs -smuggling-rcpt ADDRESS (a local mailbox that may receive test messages)")
		return 2
	}
	if *from != "" {
		opt.From = net.ParseIP(*from)
		if opt.From == nil {
			fmt.Fprintf(os.Stderr, "postern audit: -from %q is not an IP address\n", *from)
			return 2
		}
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "postern audit: %v\n", err)
			return 2
		}
		opt.RootCAs = x509.NewCertPool()
		if !opt.RootCAs.AppendCertsFromPEM(pem) {
			fmt.Fprintf(os.Stderr, "postern audit: %s holds no PEM certificate\n", *caFile)
			return 2
		}
	}
	var servers []string
	if *dnsServer != "" {
		servers = []string{*dnsServer}
	}
	opt.Resolver = pdns.New(pdns.Options{Servers: servers})
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
	if *jsonOut {
		if err := rep.WriteJSON(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "postern audit: %v\n", err)
			return 2
		}
	} else {
		colour := term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == ""
		rep.WriteText(os.Stdout, audit.TextOptions{Colour: colour, Evidence: *verbose})
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

// auditDefaults are what a postern config says about the server to audit.
type auditDefaults struct {
	target     string // the first mta listener, with a wildcard host made loopback
	submission int    // port of the first submission listener; -1 when none
	domain     string // the first local domain
}

func auditDefaultsFrom(cfg *config.Config) auditDefaults {
	d := auditDefaults{submission: -1}
	if len(cfg.LocalDomains) > 0 {
		d.domain = cfg.LocalDomains[0]
	}
	for _, l := range cfg.Listeners {
		host, port, err := net.SplitHostPort(l.Address)
		if err != nil {
			continue
		}
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		switch {
		case l.Mode == config.ModeMTA && d.target == "":
			d.target = net.JoinHostPort(host, port)
		case l.Mode == config.ModeSubmission && d.submission < 0:
			fmt.Sscan(port, &d.submission)
		}
	}
	if d.target != "" && d.submission < 0 {
		d.submission = 0
	}
	return d
}
