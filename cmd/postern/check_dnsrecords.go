package main

import (
	"context"
	"fmt"
	"io"
	"time"

	pdns "postern/internal/dns"
	"postern/internal/dnsrecords"
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
	rs := recordSettings{dataDir: cfg.DataDir, hostname: cfg.Hostname, reportInbox: cfg.DMARC.ReportInbox}
	problems := 0
	for _, d := range cfg.LocalDomains {
		recs, err := domainRecords(ctx, resolver, d, rs, errw)
		if err != nil {
			fmt.Fprintf(errw, "%s: %v\n", d, err)
			problems++
			continue
		}
		for _, m := range dnsrecords.Compare(ctx, resolver, d, recs) {
			fmt.Fprintf(errw, "%s: DNS: %s (see postern dns-records -domain %s)\n", d, m, d)
			problems++
		}
	}
	if problems > 0 {
		fmt.Fprintf(errw, "postern check: %d DNS record problem(s)\n", problems)
		return 1
	}
	fmt.Fprintf(w, "DNS records OK for %d local domain(s)\n", len(cfg.LocalDomains))
	return 0
}
