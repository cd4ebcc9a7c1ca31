package main

import (
	"context"
	"fmt"
	"io"
	"time"

	pdns "postern/internal/dns"
	"postern/internal/publish"
)

// checkDNSRecords is `postern check -dns-records`: for each local domain,
// the records `postern dns-records` prints are looked up in DNS; each one
// missing or different is a problem. It is not part of the default check,
// which must stay fast and work without the network.
func checkDNSRecords(w, errw io.Writer, path string) int {
	cfg, _, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	resolver := pdns.New(pdns.Options{Servers: cfg.DNS.Servers, Timeout: cfg.DNS.Timeout})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs := publish.Settings{DataDir: cfg.DataDir, Hostname: cfg.Hostname, ReportInbox: cfg.DMARC.ReportInbox}
	problems := publish.Check(ctx, resolver, cfg.LocalDomains, rs, errw)
	if problems > 0 {
		fmt.Fprintf(errw, "postern check: %d DNS record problem(s)\n", problems)
		return 1
	}
	fmt.Fprintf(w, "DNS records OK for %d local domain(s)\n", len(cfg.LocalDomains))
	return 0
}
