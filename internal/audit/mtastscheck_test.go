package audit_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/dnstest"
	"postern/internal/testpeer"
)

type stsAnswer struct {
	status int
	ctype  string
	body   string
	header map[string]string
}

// stsServer is a real HTTPS server on loopback answering for the
// mta-sts.DOMAIN names in answers, and a client that trusts its CA and
// reaches it at port 443 of the name's loopback address in the zone.
func stsServer(t *testing.T, dnsAddr *dnstest.Server, answers map[string]stsAnswer, certNames []string) *http.Client {
	t.Helper()
	pool, port := testpeer.StartHTTPS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		a, ok := answers[strings.TrimPrefix(host, "mta-sts.")]
		if !ok || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", a.ctype)
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}), certNames...) // the wrong-name case fails handshakes on purpose
	res := dnsAddr.Resolver()
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
			// Any mta-sts.*:443 goes to the test server: the name's
			// address from the test zone (loopback only) with the
			// server's port.
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, p, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				if !strings.HasPrefix(host, "mta-sts.") || p != "443" {
					return nil, fmt.Errorf("test client dials only mta-sts.*:443, not %s", addr)
				}
				ips, err := res.LookupIPAddr(ctx, host)
				if err != nil {
					return nil, err
				}
				if len(ips) == 0 || !ips[0].IP.IsLoopback() {
					return nil, fmt.Errorf("%s: not loopback: %v", host, ips)
				}
				return d.DialContext(ctx, network, net.JoinHostPort(ips[0].IP.String(), port))
			},
		},
	}
}

func TestMTASTSPolicy(t *testing.T) {
	const good = "version: STSv1\r\nmode: enforce\r\nmx: *.example.test\r\nmax_age: 1209600\r\n"
	zone := dnstest.Zone{}
	domains := []string{"example.test", "testing.test", "none.test", "mismatch.test", "short.test", "notfound.test",
		"redirect.test", "html.test", "big.test", "invalid.test", "wrongcert.test", "noid.test", "noaddr.test", "nomx.test"}
	for _, d := range domains {
		zone["_mta-sts."+d+". TXT"] = []string{"v=STSv1; id=20260101T000000"}
		if d != "noaddr.test" {
			zone["mta-sts."+d+". A"] = []string{"127.0.0.1"}
		}
		if d != "nomx.test" {
			zone[d+". MX"] = []string{"10 mx1.example.test.", "20 mx2.example.test."}
		}
	}
	zone["nomx.test. A"] = []string{"127.0.0.1"}
	zone["_mta-sts.noid.test. TXT"] = []string{"v=STSv1;"}
	zone["mismatch.test. MX"] = []string{"10 mx1.example.test.", "20 backup.other.test.", "30 deep.mx.example.test."}
	zone["_mta-sts.twice.test. TXT"] = []string{"v=STSv1; id=1", "v=STSv1; id=2"}
	zone["nosts.test. MX"] = []string{"10 mx1.example.test."}
	zone["_mta-sts.remote.test. TXT"] = []string{"v=STSv1; id=1"}
	zone["mta-sts.remote.test. A"] = []string{"192.0.2.1"}
	dns := dnstest.Start(t, zone)
	plain := "text/plain; charset=utf-8"
	answers := map[string]stsAnswer{
		"example.test":   {200, plain, good, nil},
		"testing.test":   {200, "text/plain", strings.Replace(good, "enforce", "testing", 1), nil},
		"none.test":      {200, plain, "version: STSv1\nmode: none\nmax_age: 86400\n", nil},
		"mismatch.test":  {200, plain, "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: *.example.test\nmax_age: 1209600\n", nil},
		"short.test":     {200, plain, strings.Replace(good, "1209600", "3600", 1), nil},
		"redirect.test":  {301, plain, "", map[string]string{"Location": "https://mta-sts.example.test/.well-known/mta-sts.txt"}},
		"html.test":      {200, "text/html", good, nil},
		"big.test":       {200, plain, good + strings.Repeat("x: y\n", 14000), nil},
		"invalid.test":   {200, plain, "version: STSv1\nmode: enforce\nmax_age: 1209600\n", nil},
		"wrongcert.test": {200, plain, good, nil},
		"noid.test":      {200, plain, good, nil},
		"noaddr.test":    {200, plain, good, nil},
		"nomx.test":      {200, plain, good, nil},
	}
	var names []string
	for _, d := range domains {
		if d != "wrongcert.test" {
			names = append(names, "mta-sts."+d)
		}
	}
	client := stsServer(t, dns, answers, names)
	cases := []struct {
		domain string
		status audit.Status
		detail string // substring of the detail
		fix    string // substring of the fix
	}{
		{"example.test", audit.Pass, "mode enforce, every MX host matches, max_age 1209600 s (14 days)", ""},
		{"testing.test", audit.Warn, "mode testing", "enforce when your TLS reports (TLSRPT) are clean"},
		{"none.test", audit.Warn, "mode none", "enforce"},
		{"mismatch.test", audit.Fail, "backup.other.test, deep.mx.example.test match no mx line", "\"mx: HOST\" line"},
		{"short.test", audit.Warn, "3600 seconds, under a day", "weeks"},
		{"notfound.test", audit.Fail, "HTTP 404", "status 200"},
		{"redirect.test", audit.Fail, "do not follow redirects", "no redirect"},
		{"html.test", audit.Fail, "not text/plain", "Content-Type text/plain"},
		{"big.test", audit.Fail, "over 65536 bytes", "Content-Type"},
		{"invalid.test", audit.Fail, "invalid (no mx line)", "version: STSv1"},
		{"wrongcert.test", audit.Fail, "certificate", "certificate"},
		{"noid.test", audit.Fail, "no valid id=", "id="},
		{"noaddr.test", audit.Fail, "cannot be fetched", "Serve the policy"},
		{"nomx.test", audit.Fail, "nomx.test match no mx line", "\"mx: HOST\" line"},
		{"twice.test", audit.Skip, "More than one", ""},
		{"nosts.test", audit.Skip, "No MTA-STS record", ""},
	}
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			rep := audit.DNSChecks(withTimeout(t, time.Minute), audit.Options{
				Domain: c.domain, Resolver: dns.Resolver(), HTTPClient: client, Timeout: 10 * time.Second,
			}, net.ParseIP("127.0.0.1"), "")
			chk := rep.Find("dns.mta-sts-policy")
			if chk == nil {
				t.Fatal("no dns.mta-sts-policy check")
			}
			if chk.Status != c.status || !strings.Contains(chk.Detail, c.detail) || !strings.Contains(chk.Fix, c.fix) {
				t.Errorf("%s: %s\nfix: %s\nwant %s, detail with %q, fix with %q\nevidence:\n%s",
					chk.Status, chk.Detail, chk.Fix, c.status, c.detail, c.fix, strings.Join(chk.Evidence, "\n"))
			}
			if (chk.Status == audit.Warn || chk.Status == audit.Fail) && chk.Fix == "" {
				t.Errorf("%s without a fix", chk.Status)
			}
			if c.status == audit.Fail && len(chk.Evidence) < 2 {
				t.Errorf("fail with little evidence: %q", chk.Evidence)
			}
		})
	}
}

// TestMTASTSDefaultClient: without HTTPClient the audit's own client
// resolves through the audit's resolver and refuses a non-loopback
// address unless remote auditing is allowed; nothing is contacted.
func TestMTASTSDefaultClient(t *testing.T) {
	dns := dnstest.Start(t, dnstest.Zone{
		"_mta-sts.remote.test. TXT": {"v=STSv1; id=1"},
		"mta-sts.remote.test. A":    {"192.0.2.1"},
		"_mta-sts.local.test. TXT":  {"v=STSv1; id=1"},
		"mta-sts.local.test. A":     {"127.0.0.1"},
	})
	rep := audit.DNSChecks(withTimeout(t, time.Minute), audit.Options{Domain: "remote.test", Resolver: dns.Resolver()}, net.ParseIP("127.0.0.1"), "")
	chk := rep.Find("dns.mta-sts-policy")
	if chk == nil || chk.Status != audit.Skip || !strings.Contains(chk.Detail, "-allow-remote") {
		t.Fatalf("remote policy host: %+v", chk)
	}
	// Port 443 of 127.0.0.1 runs no test server: whatever answers
	// there (most likely nothing), it cannot show a certificate the
	// system roots trust for mta-sts.local.test.
	rep = audit.DNSChecks(withTimeout(t, time.Minute), audit.Options{Domain: "local.test", Resolver: dns.Resolver(), Timeout: 5 * time.Second}, net.ParseIP("127.0.0.1"), "")
	chk = rep.Find("dns.mta-sts-policy")
	if chk == nil || chk.Status != audit.Fail || !strings.Contains(chk.Detail, "cannot be fetched") {
		t.Fatalf("local policy host: %+v", chk)
	}
}
