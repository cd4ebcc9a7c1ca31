// Package publish is what a mail domain served by this postern should
// publish in DNS, as `postern dns-records` prints it and `postern check
// -dns-records` compares it with DNS: the MX host, the addresses for
// SPF, the DKIM keys in the data dir and the report addresses, turned
// into records by internal/dnsrecords.
package publish

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"postern/internal/dns"
	"postern/internal/dnsrecords"
)

// Settings say how the records of a domain are made.
type Settings struct {
	DataDir     string // DKIM keys are in DataDir/dkim/DOMAIN
	Hostname    string // the configuration's hostname, "" without one
	ReportInbox string // [dmarc] report_inbox, or ""
	MX          string // the host receiving the domain's mail, or "" (Hostname if qualified, this host's name if qualified, else mail.DOMAIN)
	RUA, TLSRUA string // addresses for DMARC and TLS reports, or ""
	Selector    string // only this DKIM selector, or ""
}

// Records builds the records domain should publish; notes about missing
// keys go to errw.
func Records(ctx context.Context, resolver dns.Resolver, domain string, s Settings, errw io.Writer) ([]dnsrecords.Record, error) {
	host := s.MX
	if host == "" {
		if strings.Contains(s.Hostname, ".") {
			host = s.Hostname
		} else if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") {
			host = h
		} else {
			host = "mail." + domain
		}
	}
	rua := s.RUA
	if rua == "" {
		rua = s.ReportInbox
	}
	opt := dnsrecords.Options{Domain: domain, MXHost: host, DKIMKeys: s.keys(domain, errw), ReportAddress: rua, TLSReportAddress: s.TLSRUA,
		Addrs: publicAddrs(ctx, resolver, host)}
	return dnsrecords.Build(opt)
}

// keys are the DKIM keys of domain on disk (only Selector's, when set).
func (s Settings) keys(domain string, errw io.Writer) []dnsrecords.DKIMKey {
	keys, err := dnsrecords.LoadDKIMKeys(filepath.Join(s.DataDir, "dkim"), domain)
	if err != nil {
		fmt.Fprintf(errw, "postern dns-records: %v\n", err)
	}
	if s.Selector == "" {
		return keys
	}
	var only []dnsrecords.DKIMKey
	for _, k := range keys {
		if k.Selector == s.Selector {
			only = append(only, k)
		}
	}
	if len(only) == 0 {
		fmt.Fprintf(errw, "postern dns-records: no key %s; create it with: postern dkim keygen -domain %s -selector %s\n",
			filepath.Join(s.DataDir, "dkim", domain, s.Selector+".key"), domain, s.Selector)
	}
	return only
}

// publicAddrs returns host's public addresses, for SPF ip4:/ip6: terms.
// Loopback and private addresses (a host file entry, say) are left out;
// with none left SPF uses the mx mechanism.
func publicAddrs(ctx context.Context, r dns.Resolver, host string) []netip.Addr {
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

// WriteZone writes the records as zone-file lines, each under a comment
// saying what it is for; a file to serve (the MTA-STS policy) is shown
// as comments.
func WriteZone(w io.Writer, recs []dnsrecords.Record) {
	for _, r := range recs {
		fmt.Fprintf(w, "; %s: %s\n", r.Purpose, r.Note)
		if r.Type == "FILE" {
			fmt.Fprintf(w, "; serve at %s:\n", r.Name)
			for _, l := range strings.Split(strings.TrimSuffix(r.Value, "\n"), "\n") {
				fmt.Fprintf(w, ";   %s\n", l)
			}
		} else if r.Value != "" {
			fmt.Fprintln(w, r.ZoneLine())
		}
		fmt.Fprintln(w)
	}
}

// Check is `postern check -dns-records`: for each domain, the records it
// should publish are looked up in DNS; each one missing or different is
// a problem, reported on errw. It returns the number of problems.
func Check(ctx context.Context, resolver dns.Resolver, domains []string, s Settings, errw io.Writer) int {
	problems := 0
	for _, d := range domains {
		recs, err := Records(ctx, resolver, d, s, errw)
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
	return problems
}
