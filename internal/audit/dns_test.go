package audit_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/dnstest"
)

func dkimKey(t *testing.T, bits int) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// goodZone is a domain that follows every recommendation.
func goodZone(t *testing.T) dnstest.Zone {
	return dnstest.Zone{
		"example.test. MX":                         {"10 mx.example.test."},
		"example.test. TXT":                        {"v=spf1 mx include:_spf.example.test -all", "google-site-verification=abc"},
		"_spf.example.test. TXT":                   {"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"},
		"mx.example.test. A":                       {"127.0.0.5"},
		"s1._domainkey.example.test. TXT":          {"v=DKIM1; k=rsa; p=" + dkimKey(t, 2048)},
		"_dmarc.example.test. TXT":                 {"v=DMARC1; p=reject; rua=mailto:dmarc@example.test; adkim=s"},
		"_mta-sts.example.test. TXT":               {"v=STSv1; id=20240101T000000"},
		"_smtp._tls.example.test. TXT":             {"v=TLSRPTv1; rua=mailto:tls@example.test"},
		"5.0.0.127.in-addr.arpa. PTR":              {"mx.example.test."},
		"5.0.0.127.bl.test. TXT":                   {"unused"}, // exists with no A: not listed
		"2.0.0.127.bl.test. A":                     {"127.0.0.2"},
		"2.0.0.127.bl.test. TXT":                   {"listed for testing"},
		"2.0.0.127.broken-bl.test. SERVFAIL":       {""},
		"nothing-here.test. TXT":                   {"unrelated"},
		"_dmarc.nothing-here.test. TXT":            {"not dmarc"},
		"s1._domainkey.nothing-here.test. TXT":     {"v=DKIM1; p="},
		"nothing-here.test. MX":                    {"0 ."},
		"1.0.0.127.in-addr.arpa. TXT":              {"unused"},
		"mx.elsewhere.test. A":                     {"192.0.2.99"},
		"3.0.0.127.in-addr.arpa. PTR":              {"mx.elsewhere.test."},
		"4.0.0.127.in-addr.arpa. PTR":              {"other.example.test."},
		"other.example.test. A":                    {"127.0.0.4"},
		"weak._domainkey.sub.example.test. TXT":    {"v=DKIM1; t=y; p=" + dkimKey(t, 1024)},
		"ed._domainkey.sub.example.test. TXT":      {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="},
		"garbage._domainkey.sub.example.test. TXT": {"v=DKIM1; p=!!!"},
		"example.test. CAA":                        {"0 issue \"ca.test\""},
		"mx.example.test. AAAA":                    {"::1"},
		"_spf.example.test. SPF":                   {"ignored"},
		"2.0.0.127.in-addr.arpa. PTR":              {"unconfirmed.example.test."},
		"unconfirmed.example.test. A":              {"192.0.2.1"},
		"example.test. NS":                         {"ns.example.test."},
		"ns.example.test. A":                       {"127.0.0.53"},
		"_adsp._domainkey.example.test. TXT":       {"dkim=all"},
		"_domainkey.example.test. TXT":             {"o=-"},
		"_dmarc.sub.example.test. TXT":             {"v=DMARC1; p=none"},
		"sub.example.test. TXT":                    {"v=spf1 ~all"},
		"sub.example.test. MX":                     {"10 mx.example.test."},
		"_mta-sts.sub.example.test. TXT":           {"v=STSv1;"},
		"_smtp._tls.sub.example.test. TXT":         {"v=TLSRPTv1; rua=mailto:a@b.test", "v=TLSRPTv1; rua=mailto:c@d.test"},
		"bad.example.test. TXT":                    {"v=spf1 +all", "v=spf1 -all"},
		"bad.example.test. MX":                     {"10 mx.example.test."},
		"open.example.test. TXT":                   {"v=spf1 a mx ptr +all"},
		"many.example.test. TXT":                   {"v=spf1 include:i1.test include:i2.test include:i3.test include:i4.test include:i5.test include:i6.test -all"},
		"i1.test. TXT":                             {"v=spf1 a mx -all"},
		"i2.test. TXT":                             {"v=spf1 a mx -all"},
		"i3.test. TXT":                             {"v=spf1 a mx -all"},
		"i4.test. TXT":                             {"v=spf1 a -all"},
		"i5.test. TXT":                             {"v=spf1 exists:%{i}.x.test -all"},
		"i6.test. TXT":                             {"v=spf1 include:i6.test -all"},
		"syntax.example.test. TXT":                 {"v=spf1 ip4:300.1.1.1 -all"},
		"noinclude.example.test. TXT":              {"v=spf1 include:nothing-here.test -all"},
		"_dmarc.syntax.example.test. TXT":          {"v=DMARC1; p=sometimes"},
		"_dmarc.bad.example.test. TXT":             {"v=DMARC1; p=none; rua=mailto:x@bad.example.test", "v=DMARC1; p=reject"},
		"_dmarc.open.example.test. TXT":            {"v=DMARC1; p=quarantine; pct=20"},
		"_mta-sts.open.example.test. TXT":          {"v=STSv1; id=1", "v=STSv1; id=2"},
		"_smtp._tls.open.example.test. TXT":        {"v=TLSRPTv1;"},
		"timeout.example.test. TIMEOUT":            {""},
		"_dmarc.timeout.example.test. SERVFAIL":    {""},
	}
}

func TestDNSChecks(t *testing.T) {
	srv := dnstest.Start(t, goodZone(t))
	res := srv.Resolver()
	type want map[string]audit.Status
	cases := []struct {
		name      string
		domain    string
		selectors []string
		ip        string
		banner    string
		dnsbls    []string
		want      want
		detail    map[string]string // id -> substring of the detail
	}{
		{"good", "example.test", []string{"s1"}, "127.0.0.5", "mx.example.test", []string{"bl.test"},
			want{"dns.mx": audit.Pass, "dns.spf": audit.Pass, "dns.dkim.s1": audit.Pass, "dns.dmarc": audit.Pass,
				"dns.mta-sts": audit.Pass, "dns.tlsrpt": audit.Pass, "dns.ptr": audit.Pass, "dns.dnsbl": audit.Pass},
			map[string]string{"dns.spf": "2 DNS lookup", "dns.dkim.s1": "2048 bits", "dns.dmarc": "adkim=s"}},
		{"weak keys and staging", "sub.example.test", []string{"weak", "ed", "garbage", "missing"}, "127.0.0.2", "mx.example.test", []string{"bl.test", "broken-bl.test"},
			want{"dns.mx": audit.Pass, "dns.spf": audit.Warn, "dns.dkim.weak": audit.Warn, "dns.dkim.ed": audit.Pass, "dns.dkim.garbage": audit.Fail,
				"dns.dkim.missing": audit.Fail, "dns.dmarc": audit.Warn, "dns.mta-sts": audit.Fail, "dns.tlsrpt": audit.Fail, "dns.ptr": audit.Fail, "dns.dnsbl": audit.Fail},
			map[string]string{"dns.spf": "move ~all to -all", "dns.dkim.weak": "t=y", "dns.dmarc": "p=none", "dns.dnsbl": "bl.test", "dns.ptr": "does not resolve back"}},
		{"no records", "nothing-here.test", []string{"s1"}, "127.0.0.3", "", nil,
			want{"dns.mx": audit.Warn, "dns.spf": audit.Fail, "dns.dkim.s1": audit.Fail, "dns.dmarc": audit.Fail, "dns.mta-sts": audit.Warn, "dns.tlsrpt": audit.Warn, "dns.ptr": audit.Fail},
			map[string]string{"dns.mx": "Null MX", "dns.dkim.s1": "revoked"}},
		{"two spf records", "bad.example.test", nil, "127.0.0.4", "mx.example.test", nil,
			want{"dns.spf": audit.Fail, "dns.dmarc": audit.Fail, "dns.dkim": audit.Skip, "dns.ptr": audit.Warn},
			map[string]string{"dns.spf": "2 SPF records", "dns.ptr": "banner announces"}},
		{"plus all and ptr", "open.example.test", nil, "127.0.0.5", "mx.example.test", nil,
			want{"dns.spf": audit.Fail, "dns.dmarc": audit.Warn, "dns.mta-sts": audit.Fail, "dns.tlsrpt": audit.Fail},
			map[string]string{"dns.spf": "+all", "dns.dmarc": "pct=20"}},
		{"too many lookups", "many.example.test", nil, "127.0.0.1", "", nil,
			want{"dns.spf": audit.Fail},
			map[string]string{"dns.spf": "over the limit of 10"}},
		{"include without a record", "noinclude.example.test", nil, "127.0.0.1", "", nil,
			want{"dns.spf": audit.Fail},
			map[string]string{"dns.spf": "permanent error"}},
		{"syntax errors", "syntax.example.test", nil, "127.0.0.1", "", nil,
			want{"dns.spf": audit.Fail, "dns.dmarc": audit.Fail},
			map[string]string{"dns.spf": "invalid", "dns.dmarc": "invalid"}},
		{"servfail and timeout", "timeout.example.test", nil, "127.0.0.1", "", nil,
			want{"dns.spf": audit.Fail, "dns.dmarc": audit.Fail},
			map[string]string{"dns.dmarc": "lookup failed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := audit.DNSChecks(withTimeout(t, time.Minute), audit.Options{
				Domain: c.domain, DKIMSelectors: c.selectors, DNSBLs: c.dnsbls, Resolver: res,
			}, net.ParseIP(c.ip), c.banner)
			for id, st := range c.want {
				chk := rep.Find(id)
				if chk == nil {
					t.Errorf("%s: missing", id)
					continue
				}
				if chk.Status != st {
					t.Errorf("%s: %s, want %s: %s (evidence %v)", id, chk.Status, st, chk.Detail, chk.Evidence)
				}
				if chk.Status != audit.Pass && chk.Status != audit.Skip && chk.Fix == "" {
					t.Errorf("%s: %s without a fix", id, chk.Status)
				}
			}
			for id, sub := range c.detail {
				if chk := rep.Find(id); chk == nil || !strings.Contains(chk.Detail+" "+chk.Fix, sub) {
					t.Errorf("%s: detail %+v does not mention %q", id, chk, sub)
				}
			}
		})
	}
}
