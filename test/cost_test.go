package test

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/testenv"
)

// costBench is what the cost benchmarks (mailauth_cost_test.go,
// abuse_cost_test.go) share: smtp-source sending one message file to
// Postfix and to several postern servers in interleaved rounds, each
// postern run followed by its deliveries, and the CPU time each postern
// process used.
//
// POSTERN_BENCH_ROUNDS, POSTERN_BENCH_MESSAGES and POSTERN_BENCH_SESSIONS
// change the workload.
type costBench struct {
	t                    *testing.T
	source               string
	rounds, msgs, sess   int
	msgFile              string
	from, to, helo, rcpt string // envelope, HELO name, the Maildir address delivered to
	delivered            map[*server]int
	cpu                  map[*server]time.Duration
}

// costTarget is one server measured in every round.
type costTarget struct {
	name string
	addr string  // Postfix's SMTP address, when s is nil
	s    *server // a postern
}

func newCostBench(t *testing.T, rounds int, msgFile, from, to, helo string) *costBench {
	return &costBench{t: t, source: testenv.LookPath(t, "smtp-source"),
		rounds: envInt("POSTERN_BENCH_ROUNDS", rounds), msgs: envInt("POSTERN_BENCH_MESSAGES", 1000),
		sess: envInt("POSTERN_BENCH_SESSIONS", 10), msgFile: msgFile, from: from, to: to, helo: helo, rcpt: to,
		delivered: map[*server]int{}, cpu: map[*server]time.Duration{}}
}

// send runs smtp-source against addr and returns the messages accepted
// per second.
func (b *costBench) send(addr string) float64 {
	start := time.Now()
	out, err := exec.Command(b.source, "-s", strconv.Itoa(b.sess), "-m", strconv.Itoa(b.msgs), "-F", b.msgFile,
		"-f", b.from, "-t", b.to, "-M", b.helo, addr).CombinedOutput()
	if err != nil {
		b.t.Fatalf("smtp-source %s: %v\n%s", addr, err, out)
	}
	return float64(b.msgs) / time.Since(start).Seconds()
}

// sendPostern is send to a postern, then waits for the deliveries so
// that its CPU time counts accepting and delivering the run's messages
// and the next run starts on a quiet queue.
func (b *costBench) sendPostern(s *server) float64 {
	c0 := processCPU(b.t, s)
	rate := b.send(s.MTA)
	b.delivered[s] += b.msgs
	if n := len(s.waitMaildir(b.rcpt, b.delivered[s], 5*time.Minute)); n < b.delivered[s] {
		b.t.Fatalf("%d of %d messages delivered", n, b.delivered[s])
	}
	b.cpu[s] += processCPU(b.t, s) - c0
	return rate
}

// warm sends one run to each target (not measured) and returns what the
// first message delivered by each postern looks like.
func (b *costBench) warm(targets []costTarget) map[string]string {
	got := map[string]string{}
	for _, x := range targets {
		if x.s == nil {
			b.send(x.addr)
			continue
		}
		b.send(x.s.MTA)
		msgs := x.s.waitMaildir(b.rcpt, b.msgs, 2*time.Minute)
		if len(msgs) < b.msgs {
			b.t.Fatalf("%s: %d of %d warm-up messages delivered", x.name, len(msgs), b.msgs)
		}
		b.delivered[x.s] = len(msgs)
		got[x.name] = msgs[0]
	}
	return got
}

// round measures every target once, in an order that rotates with r so
// that load from elsewhere hits them alike.
func (b *costBench) round(r int, targets []costTarget) map[string]float64 {
	rates := map[string]float64{}
	for i := range targets {
		x := targets[(i+r)%len(targets)]
		if x.s == nil {
			rates[x.name] = b.send(x.addr)
		} else {
			rates[x.name] = b.sendPostern(x.s)
		}
	}
	return rates
}

// cpuPerMessage is the CPU time s used per measured message.
func (b *costBench) cpuPerMessage(s *server) time.Duration {
	return b.cpu[s] / time.Duration(b.rounds*b.msgs)
}

// processCPU is the CPU time a postern process used so far, from /proc
// (clock ticks of 10 ms).
func processCPU(t *testing.T, s *server) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.process().Pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
