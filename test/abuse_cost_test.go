package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/dnstest"
	"postern/internal/ratelimit/redistest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// TestAbuseCost measures what the abuse controls cost in accepted
// messages per second, as a ratio to Postfix on the same machine at the
// same time: smtp-source sends the same 5 KiB message to Postfix, to
// postern with the controls off, and to postern with all of them on:
// rate limits (in-process, and in a second server through Redis), two
// DNS block lists, reverse DNS with policy "reject", HELO checks at
// "strict" and the early-talker pause, DNS answered by a loopback server.
// The client is a stranger (not in trusted_networks), so every check
// runs; the limits are set high enough never to refuse the benchmark
// (evaluated, not hit), and the client is listed nowhere, with a
// forward-confirmed reverse name and a HELO name that resolves. SPF,
// DKIM and DMARC are off in every postern, so that only the controls
// differ. The controls must keep at least 0.8 of postern's ratio to
// Postfix without them (in-process backend), and 0.6 with Redis.
//
//	POSTERN_BENCH_ABUSE=1 go test -count=1 -run TestAbuseCost -v ./test
//
// The early-talker pause holds only a client's first connection (then
// it is remembered for [checks.early_talker] remember, 24h): the warm-up
// run pays it, the measured rounds do not. POSTERN_BENCH_ROUNDS (default
// 7), POSTERN_BENCH_MESSAGES (default 1000) and POSTERN_BENCH_SESSIONS
// (default 10) change the workload.
func TestAbuseCost(t *testing.T) {
	if os.Getenv("POSTERN_BENCH_ABUSE") == "" {
		t.Skip("a benchmark: set POSTERN_BENCH_ABUSE=1 to run it")
	}
	testenv.LookPath(t, "smtp-source")
	srv := dnstest.Start(t, dnstest.Zone{
		// The client, 127.0.0.1, with a forward-confirmed name that is
		// also its HELO name; the block lists have no entry for it, only
		// for 127.0.0.2 (to check that they are consulted).
		"1.0.0.127.in-addr.arpa. PTR":   {"client.bench.example.com."},
		"client.bench.example.com. A":   {"127.0.0.1"},
		"2.0.0.127.bl.bench.test. A":    {"127.0.0.2"},
		"2.0.0.127.dnsbl.bench.test. A": {"127.0.0.2"},
	})
	body := "From: Bench <sender@bench.example.com>\r\nTo: alice@example.test\r\nSubject: cost\r\n" +
		"Date: Sat, 21 Nov 2026 01:00:00 +0000\r\nMessage-ID: <cost@bench.example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 70)
	msgFile := filepath.Join(t.TempDir(), "msg")
	if err := os.WriteFile(msgFile, []byte(strings.ReplaceAll(body, "\r\n", "\n")), 0o644); err != nil {
		t.Fatal(err)
	}

	pf := testpeer.StartPostfix(t, map[string]string{"relay_domains": "example.test", "relay_transport": "discard:"})
	noAuth := "[spf]\ncheck = false\n[dkim]\nverify = false\n[dmarc]\ncheck = false\n"
	// Off: no limit evaluated (-1 skips a limit), no check.
	off := newServer(t, serverConfig{Trusted: []string{"::1/128"}, Extra: dnsExtra(srv) + noAuth + `
[ratelimit]
connections_per_ip_per_hour = -1
max_connections = -1
max_connections_per_ip = -1
[checks.early_talker]
pause = "off"
[checks.rdns]
policy = "off"
[checks.helo]
level = "off"
`})
	// On: every limit a stranger meets, far above the benchmark's
	// traffic, and every connection-time check.
	on := func(backend string) string {
		return dnsExtra(srv) + noAuth + backend + `connections_per_ip_per_hour = 100000000
max_connections = 10000
max_connections_per_ip = 1000
auth_failures_per_ip_per_hour = 1000
[checks.dnsbl]
stage = "rcpt"
[[checks.dnsbl.list]]
zone = "bl.bench.test"
codes = ["127.0.0.[2-11]"]
[[checks.dnsbl.list]]
zone = "dnsbl.bench.test"
[checks.rdns]
policy = "reject"
[checks.helo]
level = "strict"
[checks.early_talker]
pause = "1s"
remember = "24h"
`
	}
	onMem := newServer(t, serverConfig{Trusted: []string{"::1/128"}, Extra: on("[ratelimit]\nbackend = \"memory\"\n")})
	targets := []costTarget{{name: "postfix", addr: pf.SMTP}, {name: "off", s: off}, {name: "memory", s: onMem}}
	servers := []*server{off, onMem}
	if _, err := exec.LookPath("redis-server"); err == nil || os.Getenv("CI") != "" {
		rds := redistest.Start(t)
		onRedis := newServer(t, serverConfig{Trusted: []string{"::1/128"},
			Extra: on(fmt.Sprintf("[ratelimit]\nbackend = \"redis\"\nredis_url = %q\n", rds.URL()))})
		targets = append(targets, costTarget{name: "redis", s: onRedis})
		servers = append(servers, onRedis)
	}
	for _, s := range servers {
		s.addUser("alice@example.test", "pw")
		s.start()
	}

	b := newCostBench(t, 7, msgFile, "sender@bench.example.com", "alice@example.test", "client.bench.example.com")
	got := b.warm(targets)
	for _, x := range targets[2:] {
		// A confirmed name is in Received: reverse DNS ran and passed.
		if !strings.Contains(got[x.name], " [127.0.0.1])") {
			t.Fatalf("%s: reverse DNS did not confirm the client:\n%.1500s", x.name, got[x.name])
		}
		// The other checks are in force: a new client that talks first
		// is refused, a listed one too.
		c := dialNoGreeting(t, "127.0.0.9", x.s.MTA)
		c.send("EHLO client.bench.example.com\r\n")
		if code, text := c.reply(); code != 554 {
			t.Fatalf("%s: early talker answered %d %s", x.name, code, text)
		}
		c = dialFrom(t, "127.0.0.2", x.s.MTA)
		c.must("EHLO client.bench.example.com", 250)
		c.must("MAIL FROM:<sender@bench.example.com>", 250)
		if text := c.must("RCPT TO:<alice@example.test>", 550); !strings.Contains(text, "listed") {
			t.Fatalf("%s: listed client: %s", x.name, text)
		}
		c.must("QUIT", 221)
	}
	if strings.Contains(got["off"], " [127.0.0.1])") {
		t.Fatalf("off: reverse DNS ran:\n%.1500s", got["off"])
	}

	ratios := map[string][]float64{}
	head := fmt.Sprintf("%5s %10s %10s", "round", "postfix/s", "off/s")
	for _, x := range targets[2:] {
		head += fmt.Sprintf(" %10s %12s", x.name+"/s", x.name+"/off")
	}
	t.Log(head)
	for r := 0; r < b.rounds; r++ {
		rates := b.round(r, targets)
		line := fmt.Sprintf("%5d %10.0f %10.0f", r+1, rates["postfix"], rates["off"])
		for _, x := range targets[2:] {
			// (rate/Postfix) / (off/Postfix): the same Postfix run cancels.
			c := rates[x.name] / rates["off"]
			ratios[x.name] = append(ratios[x.name], c)
			line += fmt.Sprintf(" %10.0f %12.2f", rates[x.name], c)
		}
		t.Log(line)
	}
	want := map[string]float64{"memory": 0.8, "redis": 0.6}
	for _, x := range targets[2:] {
		m := median(ratios[x.name])
		t.Logf("%s backend: median (ratio to Postfix with the controls) / (ratio without) = %.2f over %d rounds of %d messages, %d sessions; CPU per message %v without, %v with (ratio %.2f)",
			x.name, m, b.rounds, b.msgs, b.sess, b.cpuPerMessage(off), b.cpuPerMessage(x.s), float64(b.cpu[off])/float64(b.cpu[x.s]))
		if m < want[x.name] {
			t.Errorf("%s backend: the abuse controls keep %.2f of the throughput ratio, want at least %.1f", x.name, m, want[x.name])
		}
	}
}
