package test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// TestRecipientsGrowthCost measures how the relay rate depends on the
// recipients per message: smtp-source sends messages of 1, 100 and 1,000
// recipients (smtp-source -r numbers them: 1alice@live.example, ...)
// from a trusted client, and postern relays them to smtp-sink; the rate
// is from the start of the sending until the queue is empty. Each size
// sends about the same number of recipients in all, on one server with
// max_recipients = 1000.
//
//	POSTERN_BENCH_RCPTS=1 go test -count=1 -run TestRecipientsGrowthCost -v ./test
//
// POSTERN_BENCH_RECIPIENTS (the recipients of each size in all, default
// 20000), POSTERN_BENCH_ROUNDS (3) and POSTERN_BENCH_SESSIONS (10)
// change the workload.
func TestRecipientsGrowthCost(t *testing.T) {
	if os.Getenv("POSTERN_BENCH_RCPTS") == "" {
		t.Skip("a benchmark: set POSTERN_BENCH_RCPTS=1 to run it")
	}
	total, rounds := envInt("POSTERN_BENCH_RECIPIENTS", 20000), envInt("POSTERN_BENCH_ROUNDS", 3)
	sess := envInt("POSTERN_BENCH_SESSIONS", 10)
	msgFile := benchMessage(t, "recipients")
	sk := startSink(t)
	dir := mapsDir(t, map[string]string{"mailertable": fmt.Sprintf("live.example smtp:[127.0.0.1]:%d\n", sk.Port)})
	s := newServer(t, serverConfig{MapsDir: dir, Trusted: []string{"127.0.0.1/32"},
		Extra: relayConfig(dnstest.Start(t, dnstest.Zone{}).Addr, 25, "") + benchQuiet + "[limits]\nmax_recipients = 1000\n"})
	s.start()
	qdir := filepath.Join(s.dir, "data", "spool", "queue")
	sizes := []int{1, 100, 1000}
	rates := make([][]float64, len(sizes))
	for r := 0; r < rounds; r++ {
		for k := range sizes {
			i := (k + r) % len(sizes)
			n := sizes[i]
			msgs := max(total/n, min(sess, 20))
			start := time.Now()
			smtpSource(t, s.MTA, msgFile, "alice@live.example", min(sess, msgs), msgs, n)
			for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
				if ents, _ := os.ReadDir(qdir); len(ents) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d recipients per message: the queue did not empty\n%.3000s", n, s.logs())
				}
			}
			rates[i] = append(rates[i], float64(msgs)/time.Since(start).Seconds())
		}
	}
	for i, n := range sizes {
		m := median(rates[i])
		t.Logf("%4d recipients per message: %.1f messages/s, %.0f recipients/s (median of %v messages/s)", n, m, m*float64(n), roundRates(rates[i]))
	}
}
