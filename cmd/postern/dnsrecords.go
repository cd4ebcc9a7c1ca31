package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	pdns "postern/internal/dns"
	"postern/internal/dnsrecords"
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
	pos, err := parseFlags(fs, args)
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
	rs := recordSettings{dataDir: cfg.DataDir, mx: *mx, rua: *rua, tlsRUA: *tlsrua, selector: *selector}
	if *dataDir != "" {
		rs.dataDir = *dataDir
	}
	if *configFile != "" {
		rs.hostname, rs.reportInbox = cfg.Hostname, cfg.DMARC.ReportInbox
	}
	servers := cfg.DNS.Servers
	if *dnsServer != "" {
		servers = []string{*dnsServer}
	}
	resolver := pdns.New(pdns.Options{Servers: servers, Timeout: cfg.DNS.Timeout})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	recs, err := domainRecords(ctx, resolver, d, rs, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern dns-records: %v\n", err)
		return 2
	}
	for _, r := range recs {
		fmt.Printf("; %s: %s\n", r.Purpose, r.Note)
		if r.Type == "FILE" {
			fmt.Printf("; serve at %s:\n", r.Name)
			for _, l := range strings.Split(strings.TrimSuffix(r.Value, "\n"), "\n") {
				fmt.Printf(";   %s\n", l)
			}
		} else if r.Value != "" {
			fmt.Println(r.ZoneLine())
		}
		fmt.Println()
	}
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

// publicAddrs returns host's public addresses, for SPF ip4:/ip6: terms.
// Loopback and private addresses (a host file entry, say) are left out;
// with none left SPF uses the mx mechanism.
func publicAddrs(ctx context.Context, r pdns.Resolver, host string) []netip.Addr {
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			continue
		}
		a = a.Unmap()
		if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
			continue
		}
		out = append(out, a)
	}
	return out
}

// recordSettings say how the records of a domain are made.
type recordSettings struct {
	dataDir     string // DKIM keys are in dataDir/dkim/DOMAIN
	hostname    string // the configuration's hostname, "" without one
	reportInbox string // [dmarc] report_inbox, or ""
	mx          string // -mx, or ""
	rua, tlsRUA string // -rua, -tls-rua, or ""
	selector    string // only this DKIM selector, or ""
}

// domainRecords builds the records a domain should publish; notes about
// missing keys go to errw.
func domainRecords(ctx context.Context, resolver pdns.Resolver, d string, rs recordSettings, errw io.Writer) ([]dnsrecords.Record, error) {
	host := rs.mx
	if host == "" {
		if strings.Contains(rs.hostname, ".") {
			host = rs.hostname
		} else if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") {
			host = h
		} else {
			host = "mail." + d
		}
	}
	rua := rs.rua
	if rua == "" {
		rua = rs.reportInbox
	}
	keys, err := dnsrecords.LoadDKIMKeys(filepath.Join(rs.dataDir, "dkim"), d)
	if err != nil {
		fmt.Fprintf(errw, "postern dns-records: %v\n", err)
	}
	if rs.selector != "" {
		var only []dnsrecords.DKIMKey
		for _, k := range keys {
			if k.Selector == rs.selector {
				only = append(only, k)
			}
		}
		if len(only) == 0 {
			fmt.Fprintf(errw, "postern dns-records: no key %s; create it with: postern dkim keygen -domain %s -selector %s\n",
				filepath.Join(rs.dataDir, "dkim", d, rs.selector+".key"), d, rs.selector)
		}
		keys = only
	}
	opt := dnsrecords.Options{Domain: d, MXHost: host, DKIMKeys: keys, ReportAddress: rua, TLSReportAddress: rs.tlsRUA,
		Addrs: publicAddrs(ctx, resolver, host)}
	return dnsrecords.Build(opt)
}
