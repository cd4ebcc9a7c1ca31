package test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// arrivals returns the times at which the sink's dumps that mention
// rcptDomain were written, in order.
func (s *sink) arrivals(t *testing.T, rcptDomain string) []time.Time {
	t.Helper()
	var out []time.Time
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		p := filepath.Join(s.dir, e.Name())
		b, err := os.ReadFile(p)
		fi, serr := os.Stat(p)
		if err == nil && serr == nil && strings.Contains(string(b), "@"+rcptDomain) {
			out = append(out, fi.ModTime())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// waitArrivals waits until the sink holds n messages for rcptDomain.
func (s *sink) waitArrivals(t *testing.T, rcptDomain string, n int, within time.Duration) []time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := s.arrivals(t, rcptDomain)
		if len(got) >= n || time.Now().After(deadline) {
			time.Sleep(300 * time.Millisecond) // the last dump complete
			return s.arrivals(t, rcptDomain)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A destination with a rate delay is paced as configured (its deliveries
// at least the delay apart at the sink, one at a time) while another
// destination's mail, queued at the same time, all arrives before the
// paced one is done.
func TestPacingRateDelay(t *testing.T) {
	sk := startSink(t)
	dns := dnstest.Start(t, dnstest.Zone{"slow.example. A": {"127.0.0.1"}, "fast.example. A": {"127.0.0.1"}})
	const delay = time.Second
	pacing := "[[delivery.destination]]\nmatch = \"slow.example\"\nrate_delay = \"1s\"\n"
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, sk.Port, pacing)})
	s.start()
	const nSlow, nFast = 5, 30
	for i := 0; i < nFast; i++ {
		if i < nSlow {
			relayOne(t, s, "alice@example.test", fmt.Sprintf("s%d@slow.example", i), fmt.Sprintf("Subject: slow %d\r\n\r\nhi\r\n", i))
		}
		relayOne(t, s, "alice@example.test", fmt.Sprintf("f%d@fast.example", i), fmt.Sprintf("Subject: fast %d\r\n\r\nhi\r\n", i))
	}
	fast := sk.waitArrivals(t, "fast.example", nFast, 30*time.Second)
	slow := sk.waitArrivals(t, "slow.example", nSlow, 30*time.Second)
	if len(fast) != nFast || len(slow) != nSlow {
		t.Fatalf("arrived: %d fast of %d, %d slow of %d\n%s", len(fast), nFast, len(slow), nSlow, s.logs())
	}
	for i := 1; i < len(slow); i++ {
		if gap := slow[i].Sub(slow[i-1]); gap < delay {
			t.Errorf("slow deliveries %d and %d only %v apart, rate delay %v", i-1, i, gap, delay)
		}
	}
	if last := fast[len(fast)-1]; !last.Before(slow[len(slow)-1]) {
		t.Errorf("the fast destination's last message (%v) came after the paced one's last (%v): held up", last, slow[len(slow)-1])
	}
	t.Logf("fast: %d messages in %v; slow: %d messages in %v", nFast, fast[len(fast)-1].Sub(fast[0]), nSlow, slow[len(slow)-1].Sub(slow[0]))
}

// A destination whose server answers 421 is backed off: its next
// messages are deferred without a connection, while another
// destination's mail keeps flowing.
func TestPacingBackoff421(t *testing.T) {
	sk := startSink(t)
	busy := testpeer.ServeTCP(t, func(c net.Conn) {
		c.Write([]byte("421 4.3.2 busy.example too busy, try later\r\n"))
	})
	dir := mapsDir(t, map[string]string{
		"mailertable": fmt.Sprintf("busy.example smtp:[127.0.0.1]:%d\n", busy.Port),
	})
	dns := dnstest.Start(t, dnstest.Zone{"fast.example. A": {"127.0.0.1"}})
	s := newServer(t, serverConfig{MapsDir: dir, Extra: relayConfig(dns.Addr, sk.Port, "")})
	s.start()
	relayOne(t, s, "alice@example.test", "a@busy.example", "Subject: busy 0\r\n\r\nhi\r\n")
	waitFor(t, func() bool { return strings.Contains(s.logs(), "destination backed off") })
	conns := busy.Conns()
	for i := 1; i <= 4; i++ {
		relayOne(t, s, "alice@example.test", fmt.Sprintf("b%d@busy.example", i), fmt.Sprintf("Subject: busy %d\r\n\r\nhi\r\n", i))
		relayOne(t, s, "alice@example.test", fmt.Sprintf("f%d@fast.example", i), fmt.Sprintf("Subject: fast %d\r\n\r\nhi\r\n", i))
	}
	if got := sk.waitArrivals(t, "fast.example", 4, 20*time.Second); len(got) != 4 {
		t.Fatalf("fast destination: %d of 4 delivered\n%s", len(got), s.logs())
	}
	waitFor(t, func() bool { return strings.Count(s.logs(), "delivery suspended for now") >= 4 })
	if n := busy.Conns(); n != conns {
		t.Errorf("%d more connections to the backed-off destination, want none\n%s", n-conns, s.logs())
	}
	if n := strings.Count(s.logs(), "destination backed off"); n != 1 {
		t.Errorf("back-off logged %d times, want once", n)
	}
	// A flush of the whole queue ends the back-off.
	if out, err := s.postern("", "queue", "flush"); err != nil || !strings.Contains(out, "back-off of 1 destination(s) ended") {
		t.Errorf("queue flush: %v\n%s", err, out)
	}
	waitFor(t, func() bool { return busy.Conns() > conns })
}

// `postern queue requeue` after a mailertable change sends queued mail
// to the new next hop at once (not at its next retry): offline, recorded
// for the next start with the files left to the service user; through
// the running server, at once.
func TestQueueRequeueAfterMailertableChange(t *testing.T) {
	sk := startSink(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there: connection refused
	dir := mapsDir(t, map[string]string{"mailertable": fmt.Sprintf("moved.example smtp:[127.0.0.1]:%d\n", closed)})
	dns := dnstest.Start(t, dnstest.Zone{})
	s := newServer(t, serverConfig{MapsDir: dir, Extra: relayConfig(dns.Addr, 25, "")})
	s.start()
	relayOne(t, s, "alice@example.test", "a@moved.example", "Subject: moved\r\n\r\nhi\r\n")
	relayOne(t, s, "alice@example.test", "b@moved.example", "Subject: moved too\r\n\r\nhi\r\n")
	waitFor(t, func() bool { return strings.Count(s.logs(), "delivery deferred") >= 2 })
	items := queueJSON(t, s)
	if len(items) != 2 {
		t.Fatalf("%d messages queued, want 2\n%s", len(items), s.logs())
	}
	// Queue ids made in the same millisecond sort at random: find a@'s.
	if rcpts, _ := items[0]["rcpts"].([]any); len(rcpts) != 1 || rcpts[0] != "a@moved.example" {
		items[0], items[1] = items[1], items[0]
	}
	one, two := items[0]["id"].(string), items[1]["id"].(string)
	if out, err := s.postern("", "queue", "requeue"); err == nil || !strings.Contains(out, "-all") {
		t.Errorf("requeue without ids or -all: %v\n%s", err, out)
	}

	s.stop()
	writeMap(t, dir, "mailertable", fmt.Sprintf("moved.example smtp:[127.0.0.1]:%d\n", sk.Port))
	out, err := s.postern("", "queue", "requeue", one)
	if err != nil || !strings.Contains(out, "requeued "+one) || !strings.Contains(out, "when postern serve starts") {
		t.Fatalf("offline requeue: %v\n%s", err, out)
	}
	assertServiceOwned(t, filepath.Join(s.dir, "data", "spool"))
	s.start()
	if got := sk.wait(t, 1, 20*time.Second); len(got) != 1 || !strings.Contains(got[0], "a@moved.example") {
		t.Fatalf("after the offline requeue: %d at the new next hop\n%s", len(got), s.logs())
	}
	// The other one waits for its retry, minutes away, until requeued.
	out, err = s.postern("", "queue", "requeue", two)
	if err != nil || strings.TrimSpace(out) != "requeued "+two {
		t.Fatalf("requeue: %v\n%s", err, out)
	}
	if got := sk.wait(t, 2, 20*time.Second); len(got) != 2 {
		t.Fatalf("after requeue: %d of 2 at the new next hop\n%s", len(got), s.logs())
	}
}

// assertServiceOwned fails when the test runs as root and a file under
// dir belongs to root rather than to the service user.
func assertServiceOwned(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 || testenv.ServiceUser() == "" {
		return
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := os.Lstat(p); err == nil && fi.Sys().(*syscall.Stat_t).Uid == 0 {
			t.Errorf("%s belongs to root, not to the service user", p)
		}
		return nil
	})
}
