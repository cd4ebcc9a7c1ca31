package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"postern/internal/cliflags"
	pdns "postern/internal/dns"
	"postern/internal/dnsrecords"
	"postern/internal/publish"
)

// runDNSRecords is "postern dns-records -domain D": the records to publish
// for a mail domain, and (with -check) whether DNS holds them.
func runDNSRecords(args []string) int {
	fs := flag.NewFlagSet("dns-records", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern dns-records -domain D [-selector S] [-mx HOST] [-check] [flags]")
		fs.PrintDefaults()
	}
	configFile := fs.String("config", "", configFlagHelp+": its data_dir, [dns] servers, hostname and [dmarc] report_inbox are used")
	dataDir := fs.String("data-dir", "", "postern's data directory, instead of the configuration's (DKIM keys are read from DIR/dkim/DOMAIN/*.key)")
	dnsServer := fs.String("dns", "", "DNS server HOST:PORT (default: [dns] servers, else /etc/resolv.conf)")
	domain := fs.String("domain", "", "mail domain (required)")
	selector := fs.String("selector", "", "only this DKIM selector (default: every key on disk)")
	mx := fs.String("mx", "", "host name receiving the domain's mail (default: hostname of the configuration or of this host if fully qualified, else mail.DOMAIN)")
	rua := fs.String("rua", "", "address for DMARC aggregate reports (default: [dmarc] report_inbox, else dmarc-reports@DOMAIN)")
	tlsrua := fs.String("tls-rua", "", "address for TLS reports (default tls-reports@DOMAIN)")
	check := fs.Bool("check", false, "also compare the records with what DNS holds; exit 1 on a difference")
	pos, err := cliflags.Parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 0 || *domain == "" {
		fs.Usage()
		return 2
	}
	cfg, _, err := loadConfig(*configFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern dns-records: %v\n", err)
		return 1
	}
	d := strings.ToLower(strings.TrimSuffix(*domain, "."))
	rs := publish.Settings{DataDir: cfg.DataDir, MX: *mx, RUA: *rua, TLSRUA: *tlsrua, Selector: *selector}
	if *dataDir != "" {
		rs.DataDir = *dataDir
	}
	if *configFile != "" {
		rs.Hostname, rs.ReportInbox = cfg.Hostname, cfg.DMARC.ReportInbox
	}
	servers := cfg.DNS.Servers
	if *dnsServer != "" {
		servers = []string{*dnsServer}
	}
	resolver := pdns.New(pdns.Options{Servers: servers, Timeout: cfg.DNS.Timeout})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	recs, err := publish.Records(ctx, resolver, d, rs, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern dns-records: %v\n", err)
		return 2
	}
	publish.WriteZone(os.Stdout, recs)
	if !*check {
		return 0
	}
	ms := dnsrecords.Compare(ctx, resolver, d, recs)
	if len(ms) == 0 {
		fmt.Println("; DNS holds every record above.")
		return 0
	}
	for _, m := range ms {
		fmt.Println("; MISMATCH", m.String())
	}
	return 1
}
