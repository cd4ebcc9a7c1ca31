package audit_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/dnstest"
)

// The TLSRPT record is judged by the parser the reports use: a record
// that would get no report fails, with the parser's reason.
func TestDNSCheckTLSRPTRecord(t *testing.T) {
	cases := []struct {
		record string
		want   audit.Status
		detail string
	}{
		{"v=TLSRPTv1; rua=mailto:tls@a.test,https://reports.a.test/tlsrpt", audit.Pass, "Found"},
		{"v=TLSRPTv1;rua=mailto:tls@a.test;ext=value;", audit.Pass, "Found"},
		{"v=TLSRPTv1; rua=http://reports.a.test/", audit.Fail, "only mailto: and https:"},
		{"v=TLSRPTv1; rua=mailto:not-an-address", audit.Fail, "not one address"},
		{"v=TLSRPTv1; ext=1", audit.Fail, "no rua="},
		{"v=TLSRPTv1; rua=mailto:a@a.test; rua=mailto:b@a.test", audit.Fail, "rua given twice"},
	}
	for _, c := range cases {
		srv := dnstest.Start(t, dnstest.Zone{"_smtp._tls.a.test. TXT": {c.record}})
		rep := audit.DNSChecks(withTimeout(t, time.Minute), audit.Options{Domain: "a.test", Resolver: srv.Resolver()},
			net.ParseIP("127.0.0.1"), "")
		chk := rep.Find("dns.tlsrpt")
		if chk == nil {
			t.Fatalf("%q: no dns.tlsrpt check", c.record)
		}
		if chk.Status != c.want || !strings.Contains(chk.Detail, c.detail) {
			t.Errorf("%q: %s %q, want %s with %q", c.record, chk.Status, chk.Detail, c.want, c.detail)
		}
	}
}
