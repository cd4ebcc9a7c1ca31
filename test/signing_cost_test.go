package test

import (
	"crypto/tls"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dkim"
	"postern/internal/dnstest"
)

// TestSigningCost measures what DKIM signing costs submitted mail: a
// mail client's sessions (STARTTLS and AUTH PLAIN on the submission
// listener) send the same 5 KiB message to a postern that signs it and
// to one with [dkim] sign off, in alternating rounds. The signing server
// has one domain with an Ed25519 key and one with an RSA-2048 key; the
// unsigned one has the same domains and users. Two shapes: several
// messages per kept session, and one message per session (each pays TLS
// and AUTH). Each round reports messages per second, the ratio
// signed/unsigned, and the median ratio; postern's CPU per message
// (accepted and delivered to a local Maildir) comes from /proc. The
// issue's target is 0.8 of the unsigned rate.
//
//	POSTERN_BENCH_SIGNING=1 go test -count=1 -run TestSigningCost -v ./test
//
// POSTERN_BENCH_ROUNDS (default 5), POSTERN_BENCH_MESSAGES (per round and
// target, default 400) and POSTERN_BENCH_SESSIONS (clients at once,
// default 4) change the workload.
func TestSigningCost(t *testing.T) {
	if os.Getenv("POSTERN_BENCH_SIGNING") == "" {
		t.Skip("a benchmark: set POSTERN_BENCH_SIGNING=1 to run it")
	}
	rounds, msgs, conc := envInt("POSTERN_BENCH_ROUNDS", 5), envInt("POSTERN_BENCH_MESSAGES", 400), envInt("POSTERN_BENCH_SESSIONS", 4)
	srv := dnstest.Start(t, dnstest.Zone{})
	limits := "[ratelimit]\nconnections_per_ip_per_hour = -1\nmax_connections_per_ip = -1\n" +
		"messages_per_user_per_hour = -1\nrecipients_per_user_per_hour = -1\n"
	domains := []string{"example.test", "ed.example.test", "rsa.example.test"}
	signed := newServer(t, serverConfig{Local: domains, Extra: dnsExtra(srv) + limits})
	unsigned := newServer(t, serverConfig{Local: domains, Extra: dnsExtra(srv) + limits + "[dkim]\nsign = false\n"})
	zone := dnstest.Zone{}
	for algo, domain := range map[string]string{dkim.AlgoEd25519: "ed.example.test", dkim.AlgoRSA: "rsa.example.test"} {
		zone["s1._domainkey."+domain+". TXT"] = []string{signingKey(t, signed, domain, algo)}
	}
	if err := srv.Set(zone); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*server{signed, unsigned} {
		for _, u := range []string{"alice@ed.example.test", "alice@rsa.example.test", "bob@example.test"} {
			s.addUser(u, "pw")
		}
		s.start()
	}
	b := &signBench{t: t, msgs: msgs, conc: conc, delivered: map[*server]int{}, cpu: map[string]time.Duration{}, n: map[string]int{}}
	// Warm up, and check that the signing server signs with each key
	// and the other does not sign.
	for _, x := range []struct {
		s    *server
		from string
		want string
	}{{signed, "alice@ed.example.test", "a=ed25519-sha256;"}, {signed, "alice@rsa.example.test", "a=rsa-sha256;"},
		{unsigned, "alice@rsa.example.test", ""}} {
		// The signer refuses mail (451) until its first look at DNS.
		for i := 0; submitSession(x.s.Sub, x.from, signBenchMessage(x.from), 1) != nil; i++ {
			if i == 50 {
				t.Fatalf("%s: submission refused for 10 seconds", x.from)
			}
			time.Sleep(200 * time.Millisecond)
		}
		b.delivered[x.s]++
		b.run(x.s, x.from, 10, true)
		m := x.s.maildir("bob@example.test")
		h := headerOf(m[len(m)-1])
		if x.want != "" && !strings.Contains(h, x.want) || x.want == "" && strings.Contains(h, "DKIM-Signature") {
			t.Fatalf("warm-up from %s: want %q in\n%s", x.from, x.want, h)
		}
	}
	for _, kept := range []bool{true, false} {
		b.shape(kept, rounds, signed, unsigned)
	}
}

// signBench sends submitted mail and keeps postern's CPU time per
// target ("unsigned", "ed25519", "rsa" and the shape).
type signBench struct {
	t          *testing.T
	msgs, conc int
	delivered  map[*server]int
	cpu        map[string]time.Duration
	n          map[string]int
}

// shape runs the rounds of one shape and logs them.
func (b *signBench) shape(kept bool, rounds int, signed, unsigned *server) {
	name := "one message per session"
	if kept {
		name = fmt.Sprintf("kept sessions (%d messages each)", b.msgs/b.conc)
	}
	type target struct {
		key, from string
		s         *server
	}
	targets := []target{{"unsigned", "alice@rsa.example.test", unsigned}, {"ed25519", "alice@ed.example.test", signed}, {"rsa", "alice@rsa.example.test", signed}}
	var edR, rsaR []float64
	b.t.Logf("%s, %d messages per round and target, %d clients at once", name, b.msgs, b.conc)
	b.t.Logf("%5s %10s %10s %10s %8s %8s", "round", "unsigned/s", "ed25519/s", "rsa/s", "ed/uns", "rsa/uns")
	for r := 0; r < rounds; r++ {
		rate := map[string]float64{}
		for i := range targets {
			x := targets[(i+r)%len(targets)]
			k := fmt.Sprint(x.key, kept)
			c0 := processCPU(b.t, x.s)
			stop := b.perf(x.s, fmt.Sprintf("%s-%v.data", x.key, kept))
			rate[x.key] = b.run(x.s, x.from, b.msgs, kept)
			stop()
			b.cpu[k] += processCPU(b.t, x.s) - c0
			b.n[k] += b.msgs
		}
		edR = append(edR, rate["ed25519"]/rate["unsigned"])
		rsaR = append(rsaR, rate["rsa"]/rate["unsigned"])
		b.t.Logf("%5d %10.0f %10.0f %10.0f %8.2f %8.2f", r+1, rate["unsigned"], rate["ed25519"], rate["rsa"], edR[r], rsaR[r])
	}
	per := func(key string) time.Duration {
		k := fmt.Sprint(key, kept)
		return b.cpu[k] / time.Duration(b.n[k])
	}
	b.t.Logf("%s: median signed/unsigned %.2f with Ed25519, %.2f with RSA-2048; postern CPU per message %v unsigned, %v Ed25519, %v RSA-2048",
		name, median(edR), median(rsaR), per("unsigned"), per("ed25519"), per("rsa"))
}

// perf records a profile of s into POSTERN_BENCH_PERF/name while the
// returned function is not called, when that directory is set and perf
// is installed.
func (b *signBench) perf(s *server, name string) (stop func()) {
	dir := os.Getenv("POSTERN_BENCH_PERF")
	path, err := exec.LookPath("perf")
	if dir == "" || err != nil {
		return func() {}
	}
	cmd := exec.Command(path, "record", "-q", "-g", "-o", filepath.Join(dir, name), "-p", strconv.Itoa(s.process().Pid))
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // perf attaches
	return func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
}

// run submits n messages from the user from to bob@example.test over
// b.conc sessions at once (kept: each session sends its share; else one
// message per session), waits until they are delivered, and returns the
// messages submitted per second.
func (b *signBench) run(s *server, from string, n int, kept bool) float64 {
	msg := signBenchMessage(from)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, b.conc)
	for w := 0; w < b.conc; w++ {
		share := n / b.conc
		if w < n%b.conc {
			share++
		}
		wg.Go(func() {
			for sent := 0; sent < share; {
				per := 1
				if kept {
					per = share
				}
				if err := submitSession(s.Sub, from, msg, per); err != nil {
					errs <- err
					return
				}
				sent += per
			}
		})
	}
	wg.Wait()
	rate := float64(n) / time.Since(start).Seconds()
	close(errs)
	for err := range errs {
		b.t.Fatal(err)
	}
	b.delivered[s] += n
	if got := countMaildir(s.maildirPath("bob@example.test"), b.delivered[s], 5*time.Minute); got < b.delivered[s] {
		b.t.Fatalf("%d of %d messages delivered", got, b.delivered[s])
	}
	return rate
}

// submitSession is one mail client session: EHLO, STARTTLS, AUTH PLAIN,
// then n messages.
func submitSession(addr, from, msg string, n int) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.example.test"); err != nil {
		return err
	}
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		return err
	}
	if err := c.Auth(smtp.PlainAuth("", from, "pw", "127.0.0.1")); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := c.Mail(from); err != nil {
			return err
		}
		if err := c.Rcpt("bob@example.test"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte(msg)); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return c.Quit()
}

// signBenchMessage is a 5 KiB message from from, as a mail client
// writes it.
func signBenchMessage(from string) string {
	return "From: Bench <" + from + ">\r\nTo: bob@example.test\r\nSubject: signing cost\r\n" +
		"Date: Mon, 07 Dec 2026 23:00:00 +0000\r\nMessage-ID: <cost@client.example.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 70)
}

// signingKey makes selector s1 of domain on s with postern dkim keygen,
// past its time gate, and returns its DNS record.
func signingKey(t *testing.T, s *server, domain, algo string) string {
	t.Helper()
	if out, err := s.postern("", "dkim", "keygen", "-domain", domain, "-selector", "s1", "-algo", algo); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	dir := filepath.Join(s.dir, "data", "dkim", domain)
	sched := fmt.Sprintf("[[selector]]\nname = \"s1\"\nalgo = %q\ncreated = %s\n", algo, time.Now().Add(-100*time.Hour).UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dir, dkim.ScheduleFile), []byte(sched), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := dkim.LoadKey(filepath.Join(dir, "s1.key"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dkim.PublicRecord(key)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// countMaildir waits until the Maildir dir holds at least n messages,
// counting files only, and returns how many it holds.
func countMaildir(dir string, n int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		got := 0
		for _, sub := range []string{"new", "cur"} {
			ents, _ := os.ReadDir(filepath.Join(dir, sub))
			got += len(ents)
		}
		if got >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}
