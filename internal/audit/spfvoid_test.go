package audit_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/dnstest"
)

// TestSPFVoidLookups walks records whose mechanisms point at names that
// do not exist (NXDOMAIN) or have no records of the type asked (NODATA).
func TestSPFVoidLookups(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"ok.test. TXT":          {"v=spf1 a mx include:_spf.ok.test exists:ex.ok.test -all"},
		"ok.test. A":            {"192.0.2.1"},
		"ok.test. MX":           {"10 mx.ok.test."},
		"mx.ok.test. A":         {"192.0.2.2"},
		"_spf.ok.test. TXT":     {"v=spf1 ip4:192.0.2.0/24 -all"},
		"ex.ok.test. A":         {"127.0.0.2"},
		"nodata.test. TXT":      {"unrelated"}, // exists: A, AAAA and MX are NODATA
		"v6only.test. AAAA":     {"2001:db8::1"},
		"nullmx.test. MX":       {"0 ."},
		"deadmx.test. MX":       {"10 gone-mx.test."},
		"two.test. TXT":         {"v=spf1 a:gone1.test exists:gone2.test ip4:192.0.2.1 -all"},
		"three.test. TXT":       {"v=spf1 a:gone1.test mx:nodata.test exists:v6only.test -all"},
		"mxhosts.test. TXT":     {"v=spf1 mx:deadmx.test a:nodata.test/24 -all"},
		"viainclude.test. TXT":  {"v=spf1 include:inc.test redirect=red.test"},
		"inc.test. TXT":         {"v=spf1 a:gone1.test -all"},
		"red.test. TXT":         {"v=spf1 mx:gone2.test a -all"},
		"red.test. A":           {"192.0.2.3"},
		"deadinclude.test. TXT": {"v=spf1 include:gone1.test a:gone2.test mx:gone3.test -all"},
		"macros.test. TXT":      {"v=spf1 exists:%{i}.gone1.test a:%{d}.gone2.test mx:gone3.test -all"},
		"nullmxspf.test. TXT":   {"v=spf1 mx:nullmx.test a:gone1.test -all"},
		"onevoid.test. TXT":     {"v=spf1 a:gone1.test -all"},
	})
	res := srv.Resolver()
	cases := []struct {
		domain string
		status audit.Status
		void   []string // names that must appear as void lookups
		detail string
	}{
		{"ok.test", audit.Pass, nil, "4 DNS lookup"},
		{"onevoid.test", audit.Pass, []string{"gone1.test A/AAAA"}, "1 DNS lookup"},
		{"two.test", audit.Warn, []string{"gone1.test A/AAAA", "gone2.test A"}, "one more"},
		{"three.test", audit.Fail, []string{"gone1.test A/AAAA", "nodata.test MX", "v6only.test A"}, "over the limit of 2"},
		{"mxhosts.test", audit.Warn, []string{"gone-mx.test A/AAAA", "nodata.test A/AAAA"}, "one more"},
		{"viainclude.test", audit.Warn, []string{"gone1.test A/AAAA", "gone2.test MX"}, "one more"},
		{"deadinclude.test", audit.Fail, []string{"gone1.test TXT", "gone2.test A/AAAA", "gone3.test MX"}, "over the limit of 2"},
		{"macros.test", audit.Pass, []string{"gone3.test MX"}, "-all"},
		{"nullmxspf.test", audit.Pass, []string{"gone1.test A/AAAA"}, "-all"},
	}
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			rep := audit.DNSChecks(withTimeout(t, time.Minute), audit.Options{Domain: c.domain, Resolver: res}, net.ParseIP("127.0.0.1"), "")
			chk := rep.Find("dns.spf")
			if chk == nil {
				t.Fatal("no dns.spf check")
			}
			if chk.Status != c.status {
				t.Errorf("status %s, want %s: %s (evidence %v)", chk.Status, c.status, chk.Detail, chk.Evidence)
			}
			if !strings.Contains(chk.Detail, c.detail) {
				t.Errorf("detail %q does not mention %q", chk.Detail, c.detail)
			}
			var void []string
			for _, e := range chk.Evidence {
				if v, ok := strings.CutPrefix(e, "void lookup: "); ok {
					void = append(void, v)
				}
			}
			if strings.Join(void, "|") != strings.Join(c.void, "|") {
				t.Errorf("void lookups %q, want %q", void, c.void)
			}
			if chk.Status == audit.Fail {
				for _, v := range c.void {
					if !strings.Contains(chk.Detail, v) {
						t.Errorf("detail %q does not name %q", chk.Detail, v)
					}
				}
			}
			if chk.Status != audit.Pass && !strings.Contains(chk.Fix, "no longer exist") {
				t.Errorf("fix %q", chk.Fix)
			}
		})
	}
}
