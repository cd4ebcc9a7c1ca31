package audit

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"

	"postern/internal/dns"
	"postern/internal/tlsrpt"
)

// checkDNS runs the DNS checks of the domain and of the server's address.
func (t *target) checkDNS(ctx context.Context, r *Report) {
	res := t.opt.Resolver
	if res == nil {
		return
	}
	if d := strings.TrimSuffix(strings.ToLower(t.opt.Domain), "."); d != "" {
		t.checkMX(ctx, r, res, d)
		t.checkSPF(ctx, r, res, d)
		t.checkDKIM(ctx, r, res, d)
		t.checkDMARC(ctx, r, res, d)
		t.checkTXTPolicy(ctx, r, res, "dns.mta-sts", "MTA-STS record", "_mta-sts."+d, "v=STSv1",
			"Publish MTA-STS (RFC 8461): a TXT record _mta-sts."+d+" \"v=STSv1; id=20240101\" and the policy at https://mta-sts."+d+"/.well-known/mta-sts.txt, so senders insist on TLS to you.")
		t.checkSTSPolicy(ctx, r, res, d)
		t.checkTXTPolicy(ctx, r, res, "dns.tlsrpt", "TLS reporting (TLSRPT) record", "_smtp._tls."+d, "v=TLSRPTv1",
			"Publish TLSRPT (RFC 8460): TXT _smtp._tls."+d+" \"v=TLSRPTv1; rua=mailto:tls-reports@"+d+"\" to learn when senders cannot use TLS to you.")
	}
	t.checkPTR(ctx, r, res)
	t.checkDNSBL(ctx, r, res)
}

func (t *target) checkMX(ctx context.Context, r *Report, res dns.Resolver, d string) {
	c := Check{ID: "dns.mx", Category: "dns", Title: "MX records for " + d}
	mxs, err := res.LookupMX(ctx, d)
	switch {
	case err != nil && dns.IsNotFound(err):
		c.Status = Warn
		c.Detail = "No MX record: senders fall back to the domain's A/AAAA address (RFC 5321 5.1)."
		c.Fix = "Publish an MX record naming your mail server, e.g. " + d + ". MX 10 mx." + d + "."
	case err != nil:
		c.Status = Fail
		c.Detail = "MX lookup failed: " + err.Error()
		c.Fix = "Check the domain's name servers."
	default:
		sort.Slice(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
		for _, mx := range mxs {
			c.Evidence = append(c.Evidence, fmt.Sprintf("%s. MX %d %s", d, mx.Pref, mx.Host))
		}
		// RFC 7505 3: a single MX "." with preference 0 says the
		// domain accepts no mail.
		if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
			c.Status = Warn
			c.Detail = "Null MX: the domain declares it accepts no mail (RFC 7505)."
			c.Fix = "Remove the null MX if this server should receive mail for " + d + "."
		} else {
			c.Status = Pass
			c.Detail = fmt.Sprintf("%d MX record(s).", len(mxs))
		}
	}
	r.add(c)
}

// checkTXTPolicy checks a TXT record that must start with a version tag.
func (t *target) checkTXTPolicy(ctx context.Context, r *Report, res dns.Resolver, id, title, name, version, fix string) {
	c := Check{ID: id, Category: "dns", Title: title + " (" + name + ")"}
	txts, err := res.LookupTXT(ctx, name)
	if err != nil && !dns.IsNotFound(err) {
		c.Status, c.Detail, c.Fix = Warn, "Lookup failed: "+err.Error(), "Check the domain's name servers."
		r.add(c)
		return
	}
	var found []string
	for _, txt := range txts {
		c.Evidence = append(c.Evidence, name+". TXT \""+txt+"\"")
		if strings.HasPrefix(txt, version) {
			found = append(found, txt)
		}
	}
	switch len(found) {
	case 0:
		c.Status, c.Detail, c.Fix = Warn, "No "+version+" record at "+name+".", fix
	case 1:
		c.Status, c.Detail = Pass, "Found: "+found[0]
		if version == "v=STSv1" && !strings.Contains(found[0], "id=") {
			c.Status, c.Detail, c.Fix = Fail, "The record has no id= field (RFC 8461 3.1).", fix
		}
		if version == "v=TLSRPTv1" {
			if _, err := tlsrpt.ParseRecord(found[0]); err != nil {
				c.Status, c.Detail, c.Fix = Fail, "The record does not parse (RFC 8460 3): "+err.Error()+".", fix
			}
		}
	default:
		c.Status, c.Detail, c.Fix = Fail, "More than one "+version+" record: receivers ignore them.", "Keep exactly one record."
	}
	r.add(c)
}

// checkPTR checks the server address's reverse name and that the name
// points back at the address (forward-confirmed reverse DNS), and that it
// matches the name in the banner.
func (t *target) checkPTR(ctx context.Context, r *Report, res dns.Resolver) {
	ip := t.ip.String()
	c := Check{ID: "dns.ptr", Category: "dns", Title: "Reverse DNS of " + ip}
	names, err := res.LookupAddr(ctx, ip)
	if err != nil || len(names) == 0 {
		c.Status = Fail
		c.Detail = "No PTR record for " + ip + ": many receivers reject or score mail from addresses without reverse DNS."
		if err != nil && !dns.IsNotFound(err) {
			c.Detail = "PTR lookup failed: " + err.Error()
		}
		c.Fix = "Ask whoever holds the address block (your hosting provider) to set the PTR to the server's name."
		r.add(c)
		return
	}
	confirmed := ""
	for _, n := range names {
		c.Evidence = append(c.Evidence, ip+" PTR "+n)
		addrs, err := res.LookupIPAddr(ctx, strings.TrimSuffix(n, "."))
		if err != nil {
			c.Evidence = append(c.Evidence, n+": "+err.Error())
			continue
		}
		for _, a := range addrs {
			c.Evidence = append(c.Evidence, n+" A/AAAA "+a.IP.String())
			if a.IP.Equal(t.ip) && confirmed == "" {
				confirmed = strings.ToLower(strings.TrimSuffix(n, "."))
			}
		}
	}
	switch {
	case confirmed == "":
		c.Status = Fail
		c.Detail = "The PTR name (" + strings.Join(names, ", ") + ") does not resolve back to " + ip + "."
		c.Fix = "Make the PTR name's A/AAAA record point at " + ip + "."
	case t.bannerHN != "" && confirmed != t.bannerHN:
		c.Status = Warn
		c.Detail = "Forward-confirmed as " + confirmed + ", but the banner announces " + t.bannerHN + "."
		c.Fix = "Make the server's host name (banner and EHLO) the same as the PTR name."
	default:
		c.Status = Pass
		c.Detail = "Forward-confirmed reverse DNS: " + confirmed + "."
	}
	r.add(c)
}

// checkDNSBL looks the server's address up in each DNSBL zone.
func (t *target) checkDNSBL(ctx context.Context, r *Report, res dns.Resolver) {
	if len(t.opt.DNSBLs) == 0 {
		return
	}
	c := Check{ID: "dns.dnsbl", Category: "dns", Title: "Address not on DNS blocklists"}
	q := reverseIP(t.ip)
	if q == "" {
		c.Status, c.Detail = Skip, "Cannot build a DNSBL query for "+t.ip.String()
		r.add(c)
		return
	}
	var listed, failed []string
	for _, zone := range t.opt.DNSBLs {
		name := q + "." + strings.TrimSuffix(zone, ".")
		addrs, err := res.LookupHost(ctx, name)
		switch {
		case err != nil && dns.IsNotFound(err):
			c.Evidence = append(c.Evidence, name+": not listed")
		case err != nil:
			failed = append(failed, zone)
			c.Evidence = append(c.Evidence, name+": "+err.Error())
		default:
			listed = append(listed, zone)
			c.Evidence = append(c.Evidence, name+" A "+strings.Join(addrs, " "))
			if txts, err := res.LookupTXT(ctx, name); err == nil {
				c.Evidence = append(c.Evidence, name+" TXT "+strings.Join(txts, " "))
			}
		}
	}
	switch {
	case len(listed) > 0:
		c.Status = Fail
		c.Detail = t.ip.String() + " is listed on: " + strings.Join(listed, ", ") + "."
		c.Fix = "Find out why (the TXT answer usually links to the reason), fix the cause (an open relay, a compromised account), then request delisting."
	case len(failed) > 0:
		c.Status = Warn
		c.Detail = "Some lookups failed: " + strings.Join(failed, ", ") + "."
		c.Fix = "Some DNSBLs refuse queries from public resolvers; run the audit with -dns pointing at your own resolver."
	default:
		c.Status = Pass
		c.Detail = fmt.Sprintf("Not listed on any of the %d DNSBLs checked.", len(t.opt.DNSBLs))
	}
	r.add(c)
}

// reverseIP gives the DNSBL query form: 1.2.0.192 for 192.0.2.1, nibbles
// for IPv6.
func reverseIP(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return fmt.Sprintf("%d.%d.%d.%d", v4[3], v4[2], v4[1], v4[0])
	}
	v6 := ip.To16()
	if v6 == nil {
		return ""
	}
	var b strings.Builder
	for i := len(v6) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "%x.%x.", v6[i]&0xf, v6[i]>>4)
	}
	return strings.TrimSuffix(b.String(), ".")
}

// DNSChecks runs only the DNS checks: the records of opt.Domain, and the
// reverse DNS and blocklist entries of serverIP, whose banner announces
// serverName ("" when unknown). It contacts nothing but opt.Resolver.
func DNSChecks(ctx context.Context, opt Options, serverIP net.IP, serverName string) *Report {
	t := &target{opt: &opt, ip: serverIP, bannerHN: strings.ToLower(serverName)}
	r := &Report{Schema: SchemaVersion, Target: serverIP.String(), Domain: opt.Domain}
	t.checkDNS(ctx, r)
	r.summarize()
	return r
}
