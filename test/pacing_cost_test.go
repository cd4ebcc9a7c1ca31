package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// TestPacingCost measures how fast mail for one destination is delivered
// alone, and with a paced destination (destination_rate_delay = "1s")
// holding a backlog beside it: smtp-source queues the paced backlog
// first, then the fast destination's messages, and the rate is the fast
// messages delivered per second, from the start of their sending to the
// last one at its sink. Each measurement runs on a fresh server, the two
// kinds alternating, and the medians are logged.
//
//	POSTERN_BENCH_PACING=1 go test -count=1 -run TestPacingCost -v ./test
//
// POSTERN_BENCH_ROUNDS (default 3), POSTERN_BENCH_MESSAGES (the fast
// destination's messages, default 2000), POSTERN_BENCH_SESSIONS (default
// 10) and POSTERN_BENCH_PACED (the paced backlog, default 200) change
// the workload.
func TestPacingCost(t *testing.T) {
	if os.Getenv("POSTERN_BENCH_PACING") == "" {
		t.Skip("a benchmark: set POSTERN_BENCH_PACING=1 to run it")
	}
	source := testenv.LookPath(t, "smtp-source")
	rounds, msgs := envInt("POSTERN_BENCH_ROUNDS", 3), envInt("POSTERN_BENCH_MESSAGES", 2000)
	sess, paced := envInt("POSTERN_BENCH_SESSIONS", 10), envInt("POSTERN_BENCH_PACED", 200)
	body := "From: Bench <sender@bench.example.com>\nSubject: pacing\nMessage-ID: <pacing@bench.example.com>\n\n" +
		strings.Repeat(strings.Repeat("x", 70)+"\n", 70)
	msgFile := filepath.Join(t.TempDir(), "msg")
	if err := os.WriteFile(msgFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	send := func(s *server, to string, n int) {
		out, err := exec.Command(source, "-s", strconv.Itoa(sess), "-m", strconv.Itoa(n), "-F", msgFile,
			"-f", "sender@bench.example.com", "-t", to, "-M", "client.bench.example.com", s.MTA).CombinedOutput()
		if err != nil {
			t.Fatalf("smtp-source: %v\n%s", err, out)
		}
	}
	var alone, beside []float64
	minGap, slowN := time.Duration(0), 0
	for r := 0; r < 2*rounds; r++ {
		withPaced := r%2 == 1
		fast, slow := startSink(t), startSink(t)
		dir := mapsDir(t, map[string]string{"mailertable": fmt.Sprintf(
			"fast.example smtp:[127.0.0.1]:%d\nslow.example smtp:[127.0.0.1]:%d\n", fast.Port, slow.Port)})
		dns := dnstest.Start(t, dnstest.Zone{})
		s := newServer(t, serverConfig{MapsDir: dir, Trusted: []string{"127.0.0.1/32"}, Extra: relayConfig(dns.Addr, 25,
			fmt.Sprintf("[[delivery.destination]]\nmatch = \"[127.0.0.1]:%d\"\nrate_delay = \"1s\"\n", slow.Port)) +
			"[spf]\ncheck = false\n[dkim]\nverify = false\n[dmarc]\ncheck = false\n[ratelimit]\nconnections_per_ip_per_hour = -1\n" +
			"max_connections = -1\nmax_connections_per_ip = -1\n[checks.early_talker]\npause = \"off\"\n"})
		s.start()
		if withPaced {
			send(s, "bob@slow.example", paced)
		}
		start := time.Now()
		send(s, "alice@fast.example", msgs)
		if n := countFiles(fast.dir, msgs, 5*time.Minute); n < msgs {
			t.Fatalf("%d of %d fast messages delivered\n%s", n, msgs, s.logs())
		}
		rate := float64(msgs) / time.Since(start).Seconds()
		if withPaced {
			got := slow.arrivals(t, "slow.example")
			if len(got) >= paced {
				t.Fatalf("the whole paced backlog (%d) was delivered during the run: not paced", len(got))
			}
			for i := 1; i < len(got); i++ {
				if gap := got[i].Sub(got[i-1]); minGap == 0 || gap < minGap {
					minGap = gap
				}
			}
			beside, slowN = append(beside, rate), slowN+len(got)
		} else {
			alone = append(alone, rate)
		}
		t.Logf("round %d, paced backlog %v: fast %.0f delivered/s", r/2+1, withPaced, rate)
		s.stop()
	}
	t.Logf("fast destination alone: median %.0f delivered/s %v", median(alone), alone)
	t.Logf("beside %d messages paced at 1s: median %.0f delivered/s %v (ratio %.2f); the paced destination got %d in all, at least %v apart",
		paced, median(beside), beside, median(beside)/median(alone), slowN, minGap)
}

// countFiles waits (up to within) until dir holds at least n files, and
// returns how many it holds.
func countFiles(dir string, n int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		ents, _ := os.ReadDir(dir)
		if len(ents) >= n || time.Now().After(deadline) {
			return len(ents)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
