package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/envelope"
	"postern/internal/spool"
	"postern/internal/testenv"
)

// deadHop is where mail for dead.example goes: a loopback port nothing
// listens on, so that every attempt is refused.
const deadHop = "127.0.0.1:2799"

// TestQueueGrowthCost measures how the relay rate of live mail depends on
// the messages waiting in the queue for a dead destination. For each
// size, a postern (as root, dropping to nobody) starts on a queue that
// already holds that many messages for dead.example, each written
// through the spool's own Writer and tried once (refused), with its next
// attempt spread over the coming hour as a real backlog's would be.
// Then, in rounds that rotate the order of the servers (so that load
// from elsewhere hits them alike), smtp-source sends live mail for
// live.example (relayed to each server's own smtp-sink) to each server in
// turn; the rate is the live messages delivered per second, from the
// start of their sending to the last one in the sink. The waiting
// messages that come due during a round are tried for real (the
// connection is refused) beside the live flow.
//
//	POSTERN_BENCH_QUEUE=1 go test -count=1 -timeout 60m -run TestQueueGrowthCost -v ./test
//
// POSTERN_BENCH_QUEUE_SIZES (default "10 10000 100000"),
// POSTERN_BENCH_ROUNDS (3), POSTERN_BENCH_MESSAGES (2000) and
// POSTERN_BENCH_SESSIONS (10) change the workload.
func TestQueueGrowthCost(t *testing.T) {
	if os.Getenv("POSTERN_BENCH_QUEUE") == "" {
		t.Skip("a benchmark: set POSTERN_BENCH_QUEUE=1 to run it")
	}
	if c, err := net.Dial("tcp", deadHop); err == nil {
		c.Close()
		t.Fatalf("something listens on %s, the dead destination", deadHop)
	}
	rounds, msgs := envInt("POSTERN_BENCH_ROUNDS", 3), envInt("POSTERN_BENCH_MESSAGES", 2000)
	sess := envInt("POSTERN_BENCH_SESSIONS", 10)
	msgFile := benchMessage(t, "growth")
	sizes := envInts("POSTERN_BENCH_QUEUE_SIZES", []int{10, 10000, 100000})
	servers, sinks := make([]*server, len(sizes)), make([]*sink, len(sizes))
	for i, n := range sizes {
		sinks[i] = startSink(t)
		dir := mapsDir(t, map[string]string{"mailertable": fmt.Sprintf(
			"live.example smtp:[127.0.0.1]:%d\ndead.example smtp:[127.0.0.1]:%s\n", sinks[i].Port, portOf(deadHop))})
		servers[i] = newServer(t, serverConfig{MapsDir: dir, Trusted: []string{"127.0.0.1/32"},
			Extra: relayConfig(dnstest.Start(t, dnstest.Zone{}).Addr, 25, "") + benchQuiet})
		g0 := time.Now()
		fillDeadQueue(t, filepath.Join(servers[i].dir, "data", "spool"), n)
		gen := time.Since(g0)
		s0 := time.Now()
		servers[i].start()
		up := time.Since(s0)
		// The listeners answer before the queue is loaded; the rounds
		// measure the steady state after it.
		for !strings.Contains(servers[i].logs(), "spool recovered") {
			if time.Since(s0) > 10*time.Minute {
				t.Fatalf("the queue of %d was not loaded in 10 minutes", n)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_, rss := memoryKiB(t, servers[i].process().Pid)
		t.Logf("queue %7d: written in %v, listeners up in %v, queue loaded in %v, RSS %d MiB", n, gen.Round(time.Millisecond),
			up.Round(time.Millisecond), time.Since(s0).Round(time.Millisecond), rss>>10)
	}
	rates := make([][]float64, len(sizes))
	cpu := make([]time.Duration, len(sizes))
	for r := 0; r < rounds; r++ {
		for k := range sizes {
			i := (k + r) % len(sizes)
			c0 := processCPU(t, servers[i])
			start := time.Now()
			smtpSource(t, servers[i].MTA, msgFile, "alice@live.example", sess, msgs, 1)
			if got := countFiles(sinks[i].dir, (r+1)*msgs, 5*time.Minute); got < (r+1)*msgs {
				t.Fatalf("%d of %d live messages delivered\n%.3000s", got, (r+1)*msgs, servers[i].logs())
			}
			rates[i] = append(rates[i], float64(msgs)/time.Since(start).Seconds())
			cpu[i] += processCPU(t, servers[i]) - c0
		}
	}
	for i, n := range sizes {
		waiting := queueFiles(t, filepath.Join(servers[i].dir, "data", "spool", "queue"))
		m := median(rates[i])
		_, rss := memoryKiB(t, servers[i].process().Pid)
		t.Logf("queue %7d waiting: live %.0f delivered/s (median of %v; %.2f of the smallest queue), CPU %v per live message, %d dead attempts during the rounds, RSS %d MiB",
			n, m, roundRates(rates[i]), m/median(rates[0]), cpu[i]/time.Duration(rounds*msgs),
			strings.Count(servers[i].logs(), deadHop), rss>>10)
		if waiting < n {
			t.Errorf("%d of the %d dead messages left the queue", n-waiting, n)
		}
	}
}

// benchQuiet turns off what the growth benchmarks do not measure: the
// mail authentication checks (the client is trusted anyway) and the
// connection limits, which smtp-source's bursts of connections would hit.
const benchQuiet = "[spf]\ncheck = false\n[dkim]\nverify = false\n[dmarc]\ncheck = false\n[ratelimit]\n" +
	"connections_per_ip_per_hour = -1\nmax_connections = -1\nmax_connections_per_ip = -1\n[checks.early_talker]\npause = \"off\"\n"

// refusing is a Courier whose every attempt is refused, as the dead
// destination's would be.
type refusing struct {
	mu    sync.Mutex
	tries int
}

func (c *refusing) Deliver(_ context.Context, _ *envelope.Envelope, rcpts []envelope.Recipient, _ io.ReaderAt) []error {
	c.mu.Lock()
	c.tries++
	c.mu.Unlock()
	errs := make([]error, len(rcpts))
	for i := range errs {
		errs[i] = errors.New("connect to " + deadHop + ": connection refused")
	}
	return errs
}

func (c *refusing) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tries
}

// fillDeadQueue writes n messages for dead.example into the spool at dir
// through the spool's own Writer, 50 at a time, and lets each be tried
// once by a Courier that is refused: each then has its attempt recorded
// and its next attempt (the first retry after an hour, from a clock set
// back by up to an hour) somewhere in the coming hour. The server started
// on dir afterwards loads them as it would after a restart.
func fillDeadQueue(t *testing.T, dir string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	c := &refusing{}
	sp, err := spool.New(dir, c, nil, spool.Options{RetryInitial: time.Hour, Now: func() time.Time {
		return time.Now().Add(-rand.N(time.Hour))
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sp.Run(ctx) }()
	content := []byte("From: <sender@bench.example.com>\r\nTo: <bob@dead.example>\r\nSubject: waiting\r\n\r\n" +
		strings.Repeat(strings.Repeat("y", 70)+"\r\n", 14))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 50 {
				if err := writeQueued(sp, content); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Minute); !allTried(sp, c, n); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the queue generator's attempts did not finish: %d of %d", c.count(), n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
}

// allTried reports whether all n messages have had their attempt
// recorded.
func allTried(sp *spool.Spool, c *refusing, n int) bool {
	if c.count() < n {
		return false
	}
	for _, it := range sp.Items() {
		if it.Attempts == 0 {
			return false
		}
	}
	return true
}

func writeQueued(sp *spool.Spool, content []byte) error {
	w, err := sp.Create(&envelope.Envelope{From: "sender@bench.example.com", Rcpts: []envelope.Recipient{{Addr: "bob@dead.example"}},
		ClientIP: netip.MustParseAddr("127.0.0.1"), Helo: "client.bench.example.com", Listener: "mta"})
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(content); err != nil {
		return err
	}
	return w.Commit(context.Background())
}

// queueFiles counts the messages in a queue directory (not their state
// or temporary files).
func queueFiles(t *testing.T, qdir string) int {
	ents, err := os.ReadDir(qdir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if !strings.Contains(e.Name(), ".") {
			n++
		}
	}
	return n
}

// benchMessage writes a 5 KiB message for smtp-source -F (which adds the
// CR to each line itself).
func benchMessage(t *testing.T, subject string) string {
	body := "From: Bench <sender@bench.example.com>\nSubject: " + subject + "\nMessage-ID: <" + subject + "@bench.example.com>\n\n" +
		strings.Repeat(strings.Repeat("x", 70)+"\n", 70)
	msgFile := filepath.Join(t.TempDir(), "msg")
	if err := os.WriteFile(msgFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return msgFile
}

// smtpSource sends msgs messages of msgFile to addr over sess sessions,
// rcpts recipients each (smtp-source -r numbers them: 1to, 2to...).
func smtpSource(t *testing.T, addr, msgFile, to string, sess, msgs, rcpts int) {
	out, err := exec.Command(testenv.LookPath(t, "smtp-source"), "-s", strconv.Itoa(sess), "-m", strconv.Itoa(msgs),
		"-r", strconv.Itoa(rcpts), "-F", msgFile, "-f", "sender@bench.example.com", "-t", to,
		"-M", "client.bench.example.com", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("smtp-source %s: %v\n%s", addr, err, out)
	}
}

// envInts reads a list of numbers separated by spaces from name.
func envInts(name string, def []int) []int {
	var out []int
	for _, f := range strings.Fields(os.Getenv(name)) {
		if v, err := strconv.Atoi(f); err == nil && v > 0 {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

func roundRates(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x + 0.5)
	}
	return out
}
