package test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dkim"
	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// TestMailAuthCost measures what SPF, DKIM verification and DMARC cost
// in accepted messages per second, as a ratio to Postfix on the same
// machine at the same time: smtp-source sends the same DKIM-signed
// message (SPF pass, DKIM pass, DMARC pass with p=reject, DNS answered by
// a loopback server) to Postfix, to postern with the checks and to
// postern with [spf] check, [dkim] verify, [dmarc] check and [arc] verify
// off, every mail-authentication check (the
// client is a stranger to both). Rounds interleave the three so
// that load from other work hits them alike. The checks must keep at
// least 0.8 of postern's ratio to Postfix without them.
//
//	POSTERN_BENCH_MAILAUTH=1 go test -run TestMailAuthCost -v ./test
//
// POSTERN_BENCH_ROUNDS (default 7), POSTERN_BENCH_MESSAGES (default
// 1000) and POSTERN_BENCH_SESSIONS (default 10) change the workload.
func TestMailAuthCost(t *testing.T) {
	if os.Getenv("POSTERN_BENCH_MAILAUTH") == "" {
		t.Skip("a benchmark: set POSTERN_BENCH_MAILAUTH=1 to run it")
	}
	testenv.LookPath(t, "smtp-source")

	// A signing key for the sender's domain, and its DNS.
	keyDir := t.TempDir()
	_, pemKey, err := dkim.GenerateKey(dkim.AlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dkim.WriteKey(keyDir, "bench.example.com", "b1", pemKey); err != nil {
		t.Fatal(err)
	}
	if err := dkim.AddSelector(keyDir, "bench.example.com", dkim.Selector{Name: "b1", Algo: dkim.AlgoRSA, Created: time.Now().Add(-100 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	key, _ := dkim.LoadKey(dkim.KeyPath(keyDir, "bench.example.com", "b1"))
	rec, _ := dkim.PublicRecord(key)
	srv := dnstest.Start(t, dnstest.Zone{
		"bench.example.com. TXT":              {"v=spf1 ip4:127.0.0.1 -all"},
		"_dmarc.bench.example.com. TXT":       {"v=DMARC1; p=reject"},
		"b1._domainkey.bench.example.com TXT": {rec},
	})
	body := "From: Bench <sender@bench.example.com>\r\nTo: alice@example.test\r\nSubject: cost\r\n" +
		"Date: Sat, 21 Nov 2026 01:00:00 +0000\r\nMessage-ID: <cost@bench.example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 70)
	sig, err := dkim.NewSigner(slog.New(slog.DiscardHandler), dkim.SignOptions{Dir: keyDir}).Sign(context.Background(), "bench.example.com", strings.NewReader(body))
	if err != nil || sig == "" {
		t.Fatalf("sign: %q %v", sig, err)
	}
	msgFile := filepath.Join(t.TempDir(), "msg")
	// smtp-source -F appends CRLF to each line itself.
	if os.Getenv("POSTERN_BENCH_UNSIGNED") != "" {
		sig = "" // to tell the cost of DKIM from that of SPF and DMARC
	}
	if err := os.WriteFile(msgFile, []byte(strings.ReplaceAll(sig+body, "\r\n", "\n")), 0o644); err != nil {
		t.Fatal(err)
	}

	pf := testpeer.StartPostfix(t, map[string]string{"relay_domains": "example.test", "relay_transport": "discard:"})
	// For comparison, when opendkim is installed: Postfix with opendkim
	// verifying DKIM as a milter (the usual way to add DKIM to Postfix).
	var pfDKIM *testpeer.Postfix
	if _, err := exec.LookPath("opendkim"); err == nil {
		milter := testpeer.StartOpenDKIM(t, "Mode v\nAlwaysAddARHeader yes\n", srv.Addr)
		pfDKIM = testpeer.StartPostfix(t, map[string]string{"relay_domains": "example.test", "relay_transport": "discard:",
			"smtpd_milters": "inet:" + milter, "milter_default_action": "tempfail"})
	}
	// Both servers take the client as a stranger (not in
	// trusted_networks) and differ only in the three checks.
	limits := "[ratelimit]\nconnections_per_ip_per_hour = -1\nmax_connections_per_ip = -1\n"
	on := newServer(t, serverConfig{Trusted: []string{"::1/128"}, Extra: dnsExtra(srv) + limits})
	off := newServer(t, serverConfig{Trusted: []string{"::1/128"}, Extra: dnsExtra(srv) + limits +
		"[spf]\ncheck = false\n[dkim]\nverify = false\n[dmarc]\ncheck = false\n[arc]\nverify = false\n"})
	for _, s := range []*server{on, off} {
		s.addUser("alice@example.test", "pw")
		s.start()
	}
	b := newCostBench(t, 7, msgFile, "sender@bench.example.com", "alice@example.test", "client.bench.example.com")
	targets := []costTarget{{name: "postfix", addr: pf.SMTP}, {name: "off", s: off}, {name: "on", s: on}}
	// Warm up, and check that the checks run and pass.
	if pfDKIM != nil {
		b.send(pfDKIM.SMTP)
	}
	got := b.warm(targets)
	if sig != "" && !strings.Contains(got["on"], "dkim=pass") || !strings.Contains(got["on"], "dmarc=pass") || !strings.Contains(got["on"], "spf=pass") {
		t.Fatalf("checks did not pass on the benchmark message:\n%.2000s", got["on"])
	}
	if strings.Contains(got["off"], "Authentication-Results: mx.example.test") {
		t.Fatalf("checks ran although off:\n%.2000s", got["off"])
	}

	var costs, pfDKIMRatios []float64
	t.Logf("%5s %12s %12s %12s %8s %8s %8s %14s", "round", "postfix/s", "off/s", "on/s", "off/pf", "on/pf", "on/off", "pf+opendkim/pf")
	for r := 0; r < b.rounds; r++ {
		rates := b.round(r, targets)
		offRatio, onRatio := rates["off"]/rates["postfix"], rates["on"]/rates["postfix"]
		costs = append(costs, onRatio/offRatio)
		dk := "-"
		if pfDKIM != nil {
			x := b.send(pfDKIM.SMTP) / rates["postfix"]
			pfDKIMRatios = append(pfDKIMRatios, x)
			dk = fmt.Sprintf("%.2f", x)
		}
		t.Logf("%5d %12.0f %12.0f %12.0f %8.2f %8.2f %8.2f %14s", r+1, rates["postfix"], rates["off"], rates["on"], offRatio, onRatio, onRatio/offRatio, dk)
	}
	m := median(costs)
	t.Logf("DNS queries answered by the loopback server during the benchmark: %d", srv.Queries())
	t.Logf("median (ratio to Postfix with checks) / (ratio without) = %.2f over %d rounds of %d messages, %d sessions", m, b.rounds, b.msgs, b.sess)
	if len(pfDKIMRatios) > 0 {
		t.Logf("for comparison, Postfix with opendkim verifying as a milter keeps %.2f of plain Postfix's rate (median)", median(pfDKIMRatios))
	}
	t.Logf("postern CPU per message, accepted and delivered: %v without the checks, %v with them (ratio %.2f)",
		b.cpuPerMessage(off), b.cpuPerMessage(on), float64(b.cpu[off])/float64(b.cpu[on]))
	if m < 0.8 {
		t.Errorf("SPF, DKIM and DMARC keep %.2f of the throughput ratio, want at least 0.8", m)
	}
}
