package audit

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"

	"postern/internal/dns"
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

func (t *target) checkSPF(ctx context.Context, r *Report, res dns.Resolver, d string) {
	c := Check{ID: "dns.spf", Category: "dns", Title: "SPF record for " + d}
	txt, err := lookupSPF(ctx, res, d)
	if err != nil {
		if errors.Is(err, errNoSPF) {
			c.Status = Fail
			c.Detail = "No SPF record: anyone can send mail claiming to be from " + d + "."
		} else {
			c.Status = Fail
			c.Detail = "SPF lookup failed: " + err.Error()
		}
		c.Fix = "Publish one TXT record like \"v=spf1 mx -all\" listing the servers that send your mail."
		r.add(c)
		return
	}
	c.Evidence = []string{d + ". TXT \"" + txt + "\""}
	rec, err := ParseSPF(txt)
	if err != nil {
		c.Status = Fail
		c.Detail = "The SPF record is invalid (receivers treat it as a permanent error): " + err.Error() + "."
		c.Fix = "Fix the record's syntax (RFC 7208 4.6)."
		r.add(c)
		return
	}
	var problems []string
	sev := Pass
	var fixes []string
	q, redirect := rec.All()
	switch {
	case q == '+':
		sev = Fail
		problems = append(problems, "\"+all\" authorises every host on the internet")
		fixes = append(fixes, "end the record with -all")
	case q == '?':
		sev = worst(sev, Warn)
		problems = append(problems, "\"?all\" is neutral: it protects nothing")
		fixes = append(fixes, "end the record with -all")
	case q == '~':
		sev = worst(sev, Warn)
		problems = append(problems, "\"~all\" only soft-fails forged mail")
		fixes = append(fixes, "once your senders are all listed, move ~all to -all")
	case q == 0 && redirect == "":
		sev = worst(sev, Warn)
		problems = append(problems, "no \"all\" and no redirect: unlisted hosts get a neutral result")
		fixes = append(fixes, "end the record with -all")
	}
	for _, term := range rec.Terms {
		// RFC 7208 5.5: ptr SHOULD NOT be used.
		if term.Name == "ptr" && !term.Modifier {
			sev = worst(sev, Warn)
			problems = append(problems, "uses the ptr mechanism, which is slow and unreliable (RFC 7208 5.5)")
			fixes = append(fixes, "replace ptr with ip4/ip6 or a")
		}
	}
	counter := &spfCounter{ctx: ctx, res: res, seen: map[string]bool{}, ev: &c.Evidence}
	c.Evidence = nil
	n := counter.count(d, 0)
	// RFC 7208 4.6.4: more than 10 lookups is a permanent error.
	if n > spfLimit {
		sev = Fail
		problems = append(problems, fmt.Sprintf("needs %d DNS lookups, over the limit of %d, so receivers get a permanent error", n, spfLimit))
		fixes = append(fixes, "flatten includes into ip4/ip6 ranges or drop unused ones")
	}
	for _, p := range counter.perm {
		sev = Fail
		problems = append(problems, p)
		fixes = append(fixes, "fix or remove the include")
	}
	for _, note := range counter.notes {
		sev = worst(sev, Warn)
		problems = append(problems, note)
	}
	c.Status = sev
	if len(problems) == 0 {
		c.Detail = fmt.Sprintf("Valid SPF record ending in -all, %d DNS lookup(s).", n)
	} else {
		c.Detail = fmt.Sprintf("SPF record (%d DNS lookups): %s.", n, strings.Join(problems, "; "))
		c.Fix = strings.ToUpper(fixes0(fixes)[:1]) + fixes0(fixes)[1:] + "."
	}
	r.add(c)
}

func fixes0(f []string) string {
	if len(f) == 0 {
		return "review the record"
	}
	return strings.Join(f, "; ")
}

func (t *target) checkDKIM(ctx context.Context, r *Report, res dns.Resolver, d string) {
	if len(t.opt.DKIMSelectors) == 0 {
		r.add(Check{ID: "dns.dkim", Category: "dns", Title: "DKIM keys for " + d, Status: Skip,
			Detail: "No DKIM selector given (-dkim-selector); selectors cannot be discovered from DNS."})
		return
	}
	for _, sel := range t.opt.DKIMSelectors {
		name := sel + "._domainkey." + d
		c := Check{ID: "dns.dkim." + sel, Category: "dns", Title: "DKIM key " + name}
		txts, err := res.LookupTXT(ctx, name)
		if err != nil || len(txts) == 0 {
			c.Status = Fail
			c.Detail = "No DKIM key at " + name
			if err != nil && !dns.IsNotFound(err) {
				c.Detail += ": " + err.Error()
			}
			c.Fix = "Publish the selector's public key (postern dkim keygen prints the record)."
			r.add(c)
			continue
		}
		txt := strings.Join(txts, "")
		c.Evidence = []string{name + ". TXT \"" + txt + "\""}
		tags := parseTags(txt)
		c.Status, c.Detail, c.Fix = judgeDKIM(tags)
		r.add(c)
	}
}

// parseTags splits a "k=v; k=v" tag list (RFC 6376 3.2).
func parseTags(s string) map[string]string {
	m := map[string]string{}
	for _, p := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
	}
	return m
}

func judgeDKIM(tags map[string]string) (Status, string, string) {
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return Fail, "The record's version is " + strconv.Quote(v) + ", not DKIM1.", "Start the record with v=DKIM1."
	}
	p, ok := tags["p"]
	if !ok {
		return Fail, "The record has no p= (public key) tag.", "Publish the public key in p=."
	}
	// RFC 6376 3.6.1: an empty p= means the key was revoked.
	if p == "" {
		return Fail, "The key is revoked (empty p=).", "Publish the current key or stop signing with this selector."
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return Fail, "p= is not valid base64: " + err.Error(), "Publish the key exactly as the key generator printed it."
	}
	var problems []string
	st := Pass
	k := tags["k"]
	switch k {
	case "", "rsa":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			// Some publish a PKCS#1 key.
			rp, err2 := x509.ParsePKCS1PublicKey(der)
			if err2 != nil {
				return Fail, "p= is not an RSA public key: " + err.Error(), "Publish the key exactly as the key generator printed it."
			}
			pub = rp
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return Fail, "k=rsa but p= holds another kind of key.", "Fix k= or p=."
		}
		bits := rk.N.BitLen()
		switch {
		// RFC 8301 3.2: keys under 1024 bits must not be used.
		case bits < 1024:
			st = Fail
			problems = append(problems, fmt.Sprintf("the RSA key has only %d bits, which verifiers reject (RFC 8301)", bits))
		case bits < 2048:
			st = Warn
			problems = append(problems, fmt.Sprintf("the RSA key has %d bits; 2048 is the current recommendation", bits))
		default:
			problems = append(problems, fmt.Sprintf("RSA key of %d bits", bits))
		}
	case "ed25519":
		if len(der) != 32 {
			return Fail, "k=ed25519 but p= is not a 32-byte key.", "Publish the key exactly as the key generator printed it."
		}
		problems = append(problems, "Ed25519 key (RFC 8463); pair it with an RSA selector for older verifiers")
	default:
		return Fail, "Unknown key type k=" + k + ".", "Use k=rsa or k=ed25519."
	}
	// RFC 6376 3.6.1: t=y marks a domain that is testing DKIM.
	for _, f := range strings.Split(tags["t"], ":") {
		if f == "y" {
			st = worst(st, Warn)
			problems = append(problems, "the testing flag t=y is set, so verifiers treat failures as if unsigned")
		}
	}
	fix := ""
	if st != Pass {
		fix = "Publish a 2048-bit RSA key (postern dkim keygen) and remove t=y once signing works."
	}
	return st, strings.ToUpper(problems[0][:1]) + strings.Join(problems, "; ")[1:] + ".", fix
}

func (t *target) checkDMARC(ctx context.Context, r *Report, res dns.Resolver, d string) {
	name := "_dmarc." + d
	c := Check{ID: "dns.dmarc", Category: "dns", Title: "DMARC record for " + d}
	txts, err := res.LookupTXT(ctx, name)
	var recs []string
	for _, txt := range txts {
		if strings.HasPrefix(strings.TrimSpace(txt), "v=DMARC1") {
			recs = append(recs, txt)
			c.Evidence = append(c.Evidence, name+". TXT \""+txt+"\"")
		}
	}
	if err != nil && !dns.IsNotFound(err) {
		c.Status, c.Detail, c.Fix = Fail, "DMARC lookup failed: "+err.Error(), "Check the domain's name servers."
		r.add(c)
		return
	}
	switch len(recs) {
	case 0:
		c.Status = Fail
		c.Detail = "No DMARC record at " + name + "."
		c.Fix = "Publish TXT " + name + " \"v=DMARC1; p=none; rua=mailto:dmarc@" + d + "\", read the reports, then move to p=quarantine and p=reject."
		r.add(c)
		return
	case 1:
	default:
		// RFC 7489 6.6.3: more than one record means no DMARC at all.
		c.Status, c.Detail, c.Fix = Fail, "More than one DMARC record: receivers ignore them all.", "Keep exactly one v=DMARC1 record."
		r.add(c)
		return
	}
	rec, err := dmarc.Parse(recs[0])
	if err != nil {
		c.Status, c.Detail, c.Fix = Fail, "The DMARC record is invalid: "+err.Error()+".", "Fix the record's syntax (RFC 7489 6.3)."
		r.add(c)
		return
	}
	var notes []string
	st := Pass
	fix := ""
	switch rec.Policy {
	case dmarc.PolicyNone:
		st = Warn
		notes = append(notes, "p=none only monitors: forged mail is still delivered; fine as a first stage")
		fix = "After reading the aggregate reports for a few weeks, move to p=quarantine, then p=reject."
	default:
		notes = append(notes, "policy p="+string(rec.Policy))
	}
	if rec.Percent != nil && *rec.Percent < 100 {
		st = worst(st, Warn)
		notes = append(notes, fmt.Sprintf("pct=%d applies the policy to part of the mail only", *rec.Percent))
	}
	if len(rec.ReportURIAggregate) == 0 {
		st = worst(st, Warn)
		notes = append(notes, "no rua=: you get no aggregate reports, so you cannot see who sends as you")
		if fix == "" {
			fix = "Add rua=mailto:dmarc@" + d + " to receive aggregate reports."
		}
	}
	notes = append(notes, "alignment adkim="+string(rec.DKIMAlignment)+" aspf="+string(rec.SPFAlignment))
	c.Status, c.Fix = st, fix
	c.Detail = strings.Join(notes, "; ") + "."
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
		if version == "v=TLSRPTv1" && !strings.Contains(found[0], "rua=") {
			c.Status, c.Detail, c.Fix = Fail, "The record has no rua= field (RFC 8460 3).", fix
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
