package test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The memory benchmarks: the server's resident memory with 50 sessions
// each sending a 20 MB message at once, and with 10,000 connections idle
// after EHLO. Both must stay under 256 MiB (VmHWM, the peak). They run
// only with POSTERN_BENCH_MEMORY=1 (docs/performance.md, "Memory").

const memoryBudgetKiB = 256 * 1024

// memoryBenchConfig holds mail in the queue (so that every message can be
// checked there) and allows enough connections for the idle benchmark.
const memoryBenchConfig = "mode = \"deferred\"\n\n[ratelimit]\nmax_connections = 12000\n"

func skipUnlessMemoryBench(t *testing.T) {
	if os.Getenv("POSTERN_BENCH_MEMORY") == "" {
		t.Skip("set POSTERN_BENCH_MEMORY=1 to run the memory benchmarks")
	}
}

// TestMemoryLargeMessages sends one 20 MiB message on each of 50 sessions
// at once, samples the server's memory while they are received and checks
// that every message is in the queue whole. Each message carries an
// Authentication-Results field claiming the server's name: from a
// stranger ("checked") the checks run and remove it, rewriting the
// message; from a trusted network ("trusted") nothing is checked.
func TestMemoryLargeMessages(t *testing.T) {
	skipUnlessMemoryBench(t)
	for _, tc := range []struct{ name, trusted, extra string }{
		{"trusted", "127.0.0.1/32", ""},
		// 50 sessions from one address: above the default per-address limit.
		{"checked", "::1/128", "max_connections_per_ip = 100\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, serverConfig{Relay: []string{"bench.test"}, Trusted: []string{tc.trusted},
				Extra: memoryBenchConfig + tc.extra})
			largeMessages(t, s)
			removed := strings.Count(s.logs(), "forged Authentication-Results removed")
			if want := map[string]int{"trusted": 0, "checked": 50}[tc.name]; removed != want {
				t.Errorf("forged Authentication-Results removed from %d messages, want %d", removed, want)
			}
		})
	}
}

func largeMessages(t *testing.T, s *server) {
	const sessions, size = 50, 20 << 20
	s.start()
	stop := sampleMemory(t, s.process().Pid)
	sums := make([][sha256.Size]byte, sessions)
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	start := time.Now()
	for i := 0; i < sessions; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sum, err := sendLarge(s.MTA, i, size)
			sums[i] = sum
			if err != nil {
				errs <- fmt.Errorf("session %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	hwm, rss := stop()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d sessions × %d MiB in %.1fs: server VmHWM %.1f MiB, VmRSS at the end %.1f MiB",
		sessions, size>>20, elapsed.Seconds(), float64(hwm)/1024, float64(rss)/1024)
	checkQueued(t, filepath.Join(s.dir, "data", "spool", "queue"), sums, size)
	if hwm > memoryBudgetKiB {
		t.Errorf("peak resident memory %d KiB, over 256 MiB", hwm)
	}
}

// TestMemoryIdleConnections holds 10,000 connections open after EHLO.
func TestMemoryIdleConnections(t *testing.T) {
	skipUnlessMemoryBench(t)
	const n = 10000
	raiseFileLimit(t, n+1000) // each process holds one end of every connection
	s := newServer(t, serverConfig{Extra: memoryBenchConfig})
	s.start()
	base, _ := memoryKiB(t, s.process().Pid)
	conns := openIdle(t, s.MTA, n)
	time.Sleep(2 * time.Second)
	hwm, rss := memoryKiB(t, s.process().Pid)
	t.Logf("%d idle connections: server VmHWM %.1f MiB, VmRSS %.1f MiB (%.1f MiB before), %.1f KiB per connection",
		n, float64(hwm)/1024, float64(rss)/1024, float64(base)/1024, float64(rss-base)/n)
	if hwm > memoryBudgetKiB {
		t.Errorf("peak resident memory %d KiB with %d idle connections, over 256 MiB", hwm, n)
	}
	for _, c := range []*rawConn{conns[0], conns[n-1]} {
		if code, err := c.cmd("NOOP"); err != nil || code != 250 {
			t.Fatalf("NOOP: %d %v", code, err)
		}
	}
}

// sendLarge sends one message of about size bytes, with DATA for even i
// and with BDAT in 1 MiB chunks for odd i, and returns the SHA-256 of the
// content as the server must store it (CRLF lines, not dot-stuffed).
func sendLarge(addr string, i, size int) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	c, err := rawDial(addr)
	if err != nil {
		return sum, err
	}
	defer c.close()
	for _, line := range []string{"EHLO big.test", "MAIL FROM:<big@sender.test> SIZE=" + strconv.Itoa(size+4096),
		"RCPT TO:<u@bench.test>"} {
		if code, err := c.cmd(line); err != nil || code != 250 {
			return sum, fmt.Errorf("%s: %d %v", line, code, err)
		}
	}
	h := sha256.New()
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Minute))
	var out io.Writer = &bdatWriter{c: c}
	if i%2 == 0 {
		if code, err := c.cmd("DATA"); err != nil || code != 354 {
			return sum, fmt.Errorf("DATA: %d %v", code, err)
		}
		out = c.nc
	}
	// Not part of the checksum: the checks remove it.
	if _, err := io.WriteString(out, "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=sender.test\r\n"); err != nil {
		return sum, err
	}
	w := bufio.NewWriterSize(io.MultiWriter(out, h), 1<<20)
	fmt.Fprintf(w, "From: big@sender.test\r\nTo: u@bench.test\r\nSubject: large message %d\r\n\r\n", i)
	line := []byte(strings.Repeat("0123456789abcdef", 4) + "\r\n")
	for n := 0; n < size; n += len(line) {
		copy(line, fmt.Sprintf("%04d %08d ", i, n/len(line)))
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	end := ".\r\n"
	if i%2 != 0 {
		end = "BDAT 0 LAST\r\n"
	}
	if _, err := c.nc.Write([]byte(end)); err != nil {
		return sum, err
	}
	if code, err := c.readWithin(5 * time.Minute); err != nil || code != 250 {
		return sum, fmt.Errorf("end of the message: %d %v", code, err)
	}
	return sum, nil
}

// bdatWriter sends each write as one BDAT chunk and waits for its 250.
type bdatWriter struct{ c *rawConn }

func (b *bdatWriter) Write(p []byte) (int, error) {
	if _, err := fmt.Fprintf(b.c.nc, "BDAT %d\r\n%s", len(p), p); err != nil {
		return 0, err
	}
	if code, err := b.c.readWithin(time.Minute); err != nil || code != 250 {
		return 0, fmt.Errorf("BDAT chunk: %d %v", code, err)
	}
	return len(p), nil
}

// checkQueued finds each sent message, whole, at the end of the content
// of one queue file.
func checkQueued(t *testing.T, dir string, sums [][sha256.Size]byte, size int) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[[sha256.Size]byte]bool{}
	for _, s := range sums {
		want[s] = true
	}
	found := 0
	for _, e := range ents {
		sum, err := queuedMessageSum(filepath.Join(dir, e.Name()), size)
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		if want[sum] {
			delete(want, sum)
			found++
		}
	}
	if len(want) != 0 {
		t.Errorf("%d of %d messages in the queue whole (%d files)", found, len(sums), len(ents))
	}
}

// queuedMessageSum hashes the last bytes of a queue file's content: the
// message as the client sent it, after the header fields the server
// added. The content length is in the file's footer.
func queuedMessageSum(path string, size int) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return sum, err
	}
	const footerLen = 10 + 16 + 1 + 8 + 1 + 8 + 1 + 8 + 1
	foot := make([]byte, footerLen)
	if _, err := f.ReadAt(foot, fi.Size()-footerLen); err != nil {
		return sum, err
	}
	if !bytes.HasPrefix(foot, []byte("\nPOSTERN1 ")) {
		return sum, fmt.Errorf("no footer: %q", foot)
	}
	contentLen, err := strconv.ParseInt(string(foot[10:26]), 16, 64)
	if err != nil {
		return sum, err
	}
	// The message starts at its From field; the server's own fields
	// come before it.
	head := make([]byte, 16<<10)
	n, _ := f.ReadAt(head, 0)
	off := bytes.Index(head[:n], []byte("\r\nFrom: big@sender.test\r\n"))
	if off < 0 {
		return sum, fmt.Errorf("no From field in the first %d bytes", n)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, int64(off+2), contentLen-int64(off+2))); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// sampleMemory reads the process's memory every 50 ms until the returned
// function is called, which gives the peak (VmHWM) and the last VmRSS.
func sampleMemory(t *testing.T, pid int) func() (hwm, rss int) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, r := memoryKiB(t, pid); r > peak {
				peak = r
			}
		}
	}()
	return func() (int, int) {
		close(done)
		wg.Wait()
		hwm, rss := memoryKiB(t, pid)
		if peak > hwm {
			hwm = peak
		}
		return hwm, rss
	}
}

// memoryKiB returns a process's VmHWM and VmRSS.
func memoryKiB(t testing.TB, pid int) (hwm, rss int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Error(err)
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmHWM:":
			hwm, _ = strconv.Atoi(f[1])
		case "VmRSS:":
			rss, _ = strconv.Atoi(f[1])
		}
	}
	return hwm, rss
}

// raiseFileLimit sets this process's open file limit (which the server
// inherits) to at least n, or skips.
func raiseFileLimit(t *testing.T, n uint64) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Cur >= n {
		return
	}
	if l.Max < n {
		l.Max = n // root may raise the hard limit
	}
	l.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Skipf("open file limit %d, %d needed: %v", l.Cur, n, err)
	}
}
