package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/audit/audittest"
	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// stsPolicyServer serves MTA-STS policy files over HTTPS on addr (port
// 443, as RFC 8461 3.3 requires), one per policy host, with a
// certificate from ca. It stops when the test ends or stop is called.
func stsPolicyServer(t *testing.T, ca *audittest.CA, addr string, policies map[string]string) (stop func()) {
	t.Helper()
	dir := t.TempDir()
	var names []string
	for host := range policies {
		names = append(names, host)
	}
	certFile, keyFile := ca.Issue(t, dir, time.Now().Add(time.Hour), names...)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		testenv.Missing(t, "port 443 on "+addr+" for the MTA-STS policy server (run as root): "+err.Error())
	}
	srv := &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, ok := policies[strings.ToLower(r.Host)]
			if !ok || r.URL.Path != "/.well-known/mta-sts.txt" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, body)
		}),
	}
	go srv.ServeTLS(ln, "", "")
	stop = func() { srv.Shutdown(context.Background()) }
	t.Cleanup(stop)
	return stop
}

// Delivery enforces the MTA-STS policies that recipient domains publish:
// an enforced policy delivers only to a listed MX with a certificate that
// verifies, defers otherwise and never falls back to plaintext; a policy
// in testing mode delivers anyway. The policy is kept on disk, so a
// restart enforces it with the policy server gone, and postern explain
// shows the same decision.
func TestMTASTSEnforcedOutbound(t *testing.T) {
	sk := startSink(t)
	ca := audittest.NewCA(t)
	tlsDir := t.TempDir()
	os.Chmod(tlsDir, 0o755)
	cert, key := ca.Issue(t, tlsDir, time.Now().Add(time.Hour), "mx.partner.example", "mx.elsewhere.example")
	os.Chmod(key, 0o644)
	domains := []string{"partner.example", "unlisted.example", "wrong.example", "testing.example"}
	pfPort := startPostfixMX(t, "mx.partner.example", cert, key, sk, domains...)
	policy := func(mode string, mx ...string) string {
		s := "version: STSv1\nmode: " + mode + "\n"
		for _, m := range mx {
			s += "mx: " + m + "\n"
		}
		return s + "max_age: 86400\n"
	}
	stopPolicies := stsPolicyServer(t, ca, "127.0.0.6:443", map[string]string{
		"mta-sts.partner.example":  policy("enforce", "mx.partner.example"),
		"mta-sts.unlisted.example": policy("enforce", "mx.elsewhere.example"),
		"mta-sts.wrong.example":    policy("enforce", "mx.wrong.example"),
		"mta-sts.testing.example":  policy("testing", "mx.testing.example"),
	})
	zone := dnstest.Zone{}
	for _, d := range domains {
		zone[d+". MX"] = []string{"10 mx." + d + "."}
		zone["mx."+d+". A"] = []string{"127.0.0.1"}
		zone["_mta-sts."+d+". TXT"] = []string{"v=STSv1; id=20261207"}
		zone["mta-sts."+d+". A"] = []string{"127.0.0.6"}
	}
	zone["unlisted.example. MX"] = []string{"10 mx.partner.example."}
	zone["unlisted.example. TTL"] = []string{"1"}
	zone["mx.elsewhere.example. A"] = []string{"127.0.0.1"}
	dns := dnstest.Start(t, zone)
	caFile := filepath.Join(tlsDir, "ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o644)
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, pfPort, fmt.Sprintf("tls_ca_file = %q\n", caFile))})
	s.start()
	for _, d := range domains {
		relayOne(t, s, "alice@example.test", "bob@"+d, "Subject: to "+d+"\r\n\r\nhi\r\n")
	}
	got := sk.wait(t, 2, 30*time.Second)
	eventually(t, 20*time.Second, "both deferrals logged", func() bool {
		l := s.logs()
		return strings.Contains(l, "is not among mx: mx.elsewhere.example") && strings.Contains(l, "certificate not verified")
	})
	time.Sleep(time.Second)
	got = sk.wait(t, 2, time.Second)
	delivered := strings.Join(got, "\n")
	if len(got) != 2 || !strings.Contains(delivered, "Subject: to partner.example") || !strings.Contains(delivered, "Subject: to testing.example") {
		t.Fatalf("want the enforced and the testing domain delivered, %d messages:\n%s\npostern:\n%s", len(got), delivered, s.logs())
	}
	logs := s.logs()
	for _, want := range []string{"MTA-STS policy of partner.example, mode enforce", "MTA-STS policy of testing.example, mode testing"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "retrying without TLS") {
		t.Errorf("a plaintext fallback under an MTA-STS policy:\n%s", logs)
	}

	// The sender's "TLS-Required: No" (RFC 8689) sets the policy aside.
	relayOne(t, s, "alice@example.test", "dave@unlisted.example", "TLS-Required: No\r\nSubject: tls optional\r\n\r\nhi\r\n")
	if got := sk.wait(t, 3, 20*time.Second); len(got) != 3 || !strings.Contains(strings.Join(got, "\n"), "Subject: tls optional") {
		t.Fatalf("TLS-Required: No not delivered: %d messages\n%s", len(got), s.logs())
	}
	// Fixed: the domain's MX now names a listed host; the waiting mail
	// goes once the queue is run.
	zone["unlisted.example. MX"] = []string{"10 mx.elsewhere.example."}
	if err := dns.Set(zone); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the MX answer's TTL
	if out, err := s.postern("", "queue", "flush"); err != nil {
		t.Fatalf("queue flush: %v\n%s", err, out)
	}
	got = sk.wait(t, 4, 20*time.Second)
	if len(got) != 4 || !strings.Contains(strings.Join(got, "\n"), "Subject: to unlisted.example") {
		t.Fatalf("after the MX was fixed: %d messages\n%s", len(got), s.logs())
	}

	// The policies are on disk, the service user's.
	saved := filepath.Join(s.dir, "data", "mta-sts", "partner.example.json")
	st, err := os.Stat(saved)
	if err != nil {
		t.Fatalf("policy not kept on disk: %v", err)
	}
	if os.Geteuid() == 0 && st.Sys().(*syscall.Stat_t).Uid == 0 {
		t.Errorf("%s belongs to root, not the service user", saved)
	}
	out, err := s.postern("", "explain", "-client", "127.0.0.1", "-from", "alice@example.test", "-rcpt", "bob@partner.example", "-rcpt", "bob@wrong.example")
	if err != nil || !strings.Contains(out, "TLS with mx.partner.example: verify (MTA-STS policy of partner.example, mode enforce") ||
		!strings.Contains(out, "TLS with mx.wrong.example: verify (MTA-STS policy of wrong.example") {
		t.Errorf("explain: %v\n%s", err, out)
	}

	// Restarted without the policy server: the kept policy still holds.
	stopPolicies()
	s.stop()
	s.start()
	relayOne(t, s, "alice@example.test", "carol@partner.example", "Subject: after restart\r\n\r\nhi\r\n")
	if got := sk.wait(t, 5, 30*time.Second); len(got) != 5 {
		t.Fatalf("after the restart: %d messages\n%s", len(got), s.logs())
	}
	if n := strings.Count(s.logs(), "MTA-STS policy of partner.example, mode enforce"); n < 2 {
		t.Errorf("the kept policy was not used after the restart:\n%s", s.logs())
	}
}
