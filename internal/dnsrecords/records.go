// Package dnsrecords works out the DNS records a mail domain served by
// postern should publish (MX, SPF, DKIM, DMARC, MTA-STS, TLSRPT) and
// compares them with what DNS holds.
package dnsrecords

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"postern/internal/dmarc"
)

// Record is one record to publish. Type is a DNS type ("TXT", "MX"), or
// "FILE" for the MTA-STS policy, which is served over HTTPS at Name.
type Record struct {
	Purpose string // "MX", "SPF", "DKIM", "DMARC", "MTA-STS", "TLSRPT"
	Name    string // owner name without the trailing dot, or the policy URL
	Type    string
	Value   string
	Note    string // advice for the admin
}

// ZoneLine renders the record as a zone-file line; TXT data longer than
// 255 bytes is split into several strings (RFC 1035 3.3.14).
func (r Record) ZoneLine() string {
	switch r.Type {
	case "TXT":
		v := r.Value
		var parts []string
		for len(v) > 255 {
			parts = append(parts, quote(v[:255]))
			v = v[255:]
		}
		parts = append(parts, quote(v))
		return fmt.Sprintf("%s.\t3600\tIN\tTXT\t%s", r.Name, strings.Join(parts, " "))
	case "FILE":
		return r.Value
	}
	return fmt.Sprintf("%s.\t3600\tIN\t%s\t%s", r.Name, r.Type, r.Value)
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Options describe the domain.
type Options struct {
	Domain string
	// MXHost is the name of the host receiving the domain's mail.
	MXHost string
	// Addrs are MXHost's addresses; when given, SPF lists them instead
	// of using the mx mechanism (saving receivers a lookup).
	Addrs []netip.Addr
	// DKIMKeys are the domain's signing keys (see LoadDKIMKeys).
	DKIMKeys []DKIMKey
	// ReportAddress receives DMARC aggregate reports; "" means
	// dmarc-reports@Domain.
	ReportAddress string
	// TLSReportAddress receives TLS reports; "" means tls-reports@Domain.
	TLSReportAddress string
}

// Build returns the records to publish, in the order an admin should
// work through them.
func Build(opt Options) ([]Record, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(opt.Domain)), ".")
	if d == "" || !strings.Contains(d, ".") || strings.ContainsAny(d, " /@;\"") {
		return nil, fmt.Errorf("domain %q is not a mail domain", opt.Domain)
	}
	mx := strings.TrimSuffix(strings.ToLower(opt.MXHost), ".")
	if mx == "" {
		return nil, errors.New("no MX host given")
	}
	rua := opt.ReportAddress
	if rua == "" {
		rua = "dmarc-reports@" + d
	}
	tlsrua := opt.TLSReportAddress
	if tlsrua == "" {
		tlsrua = "tls-reports@" + d
	}
	var recs []Record
	recs = append(recs, Record{Purpose: "MX", Name: d, Type: "MX", Value: "10 " + mx + ".",
		Note: "mail for the domain goes to " + mx})

	spf := "v=spf1 mx -all"
	if len(opt.Addrs) > 0 {
		var mech []string
		for _, a := range opt.Addrs {
			a = a.Unmap()
			if a.Is4() {
				mech = append(mech, "ip4:"+a.String())
			} else {
				mech = append(mech, "ip6:"+a.String())
			}
		}
		spf = "v=spf1 " + strings.Join(mech, " ") + " -all"
	}
	recs = append(recs, Record{Purpose: "SPF", Name: d, Type: "TXT", Value: spf,
		Note: "only this server may send as " + d + "; add other senders (e.g. a newsletter service) before publishing; exactly one v=spf1 record"})

	for _, k := range opt.DKIMKeys {
		v, err := DKIMRecord(k.Public)
		if err != nil {
			return nil, fmt.Errorf("dkim selector %s: %w", k.Selector, err)
		}
		recs = append(recs, Record{Purpose: "DKIM", Name: k.Selector + "._domainkey." + d, Type: "TXT", Value: v,
			Note: fmt.Sprintf("public half of %s", k.Path)})
	}
	if len(opt.DKIMKeys) == 0 {
		recs = append(recs, Record{Purpose: "DKIM", Name: "SELECTOR._domainkey." + d, Type: "TXT",
			Note: "no key yet: run 'postern dkim keygen -domain " + d + " -selector SELECTOR' and run this command again"})
	}

	dm := &dmarc.Record{Policy: dmarc.PolicyNone, Percent: 100, RUA: []dmarc.ReportURI{{URI: "mailto:" + rua}}}
	recs = append(recs, Record{Purpose: "DMARC", Name: "_dmarc." + d, Type: "TXT", Value: dm.String(),
		Note: "start with p=none and read the reports ('postern dmarc report'); when all your mail passes, " +
			"move to p=quarantine (with pct=25, then 100), then to p=reject"})

	policy := fmt.Sprintf("version: STSv1\nmode: testing\nmx: %s\nmax_age: 86400\n", mx)
	sum := sha256.Sum256([]byte(policy))
	// RFC 8461 3.1: id is 1-32 alphanumerics and must change whenever the policy does.
	id := hex.EncodeToString(sum[:10])
	recs = append(recs,
		Record{Purpose: "MTA-STS", Name: "_mta-sts." + d, Type: "TXT", Value: "v=STSv1; id=" + id,
			Note: "the id changes whenever the policy file changes"},
		Record{Purpose: "MTA-STS", Name: "https://mta-sts." + d + "/.well-known/mta-sts.txt", Type: "FILE", Value: policy,
			Note: "serve this file over HTTPS with a valid certificate for mta-sts." + d + "; after a few weeks of clean TLS reports change mode to enforce and max_age to 1209600"},
		Record{Purpose: "TLSRPT", Name: "_smtp._tls." + d, Type: "TXT", Value: "v=TLSRPTv1; rua=mailto:" + tlsrua,
			Note: "receivers send daily TLS reports (RFC 8460) here"},
	)
	return recs, nil
}
