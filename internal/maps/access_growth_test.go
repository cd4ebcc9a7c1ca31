package maps

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestAccessGrowth measures an access map of a million lines (by
// default): how long ParseAccess takes to load it from its file, the heap
// it keeps, and lookups per second through Connect, From and To, each in
// sendmail's order of tries (host name and its parents, then the address
// and its prefixes; the address, user@, the domain and its parents), half
// of them found and half not. A benchmark, not a test: it runs only with
// POSTERN_BENCH_MAPS set (docs/performance.md, "Growth").
//
//	POSTERN_BENCH_MAPS=1 go test -count=1 -run TestAccessGrowth -v ./internal/maps
//
// POSTERN_BENCH_MAP_LINES changes the size (default 1000000).
func TestAccessGrowth(t *testing.T) {
	if os.Getenv("POSTERN_BENCH_MAPS") == "" {
		t.Skip("a benchmark: set POSTERN_BENCH_MAPS=1 to run it")
	}
	n := 1000000
	if v, err := strconv.Atoi(os.Getenv("POSTERN_BENCH_MAP_LINES")); err == nil && v > 0 {
		n = v
	}
	path := filepath.Join(t.TempDir(), "access")
	size := writeGrowthAccess(t, path, n)

	before := heapInUse()
	cpu0 := cpuTime()
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAccess(path, f)
	f.Close()
	load, cpu := time.Since(start), cpuTime()-cpu0
	if err != nil {
		t.Fatal(err)
	}
	kept := heapInUse() - before
	if a.Len() != n {
		t.Fatalf("%d entries loaded, want %d", a.Len(), n)
	}
	t.Logf("%d lines (%d MiB): loaded in %v (CPU time of the process %v, the collector's included), heap kept %d MiB (%d bytes per entry)",
		n, size>>20, load.Round(time.Millisecond), cpu.Round(time.Millisecond), kept>>20, kept/uint64(n))

	const lookups = 300000
	kinds := []struct {
		name string
		one  func(i int) bool
	}{
		{"Connect (host name, then address)", func(i int) bool {
			_, ok := a.Connect(growthIP(i), fmt.Sprintf("mx%d.client%d.example", i, i))
			return ok
		}},
		{"From (address, user@, domain and parents)", func(i int) bool {
			_, ok := a.From(fmt.Sprintf("user%d@sub.sender%d.example", i, i))
			return ok
		}},
		{"To (address, user@, domain and parents)", func(i int) bool {
			_, ok := a.To(fmt.Sprintf("rcpt%d@dest%d.example", i, i))
			return ok
		}},
	}
	for _, k := range kinds {
		hits := 0
		start := time.Now()
		for i := range lookups {
			// Even i: a key of the map; odd: one it does not have.
			j := i / 2 % (n / 4)
			if i%2 == 1 {
				j += n
			}
			if k.one(j) {
				hits++
			}
		}
		el := time.Since(start)
		if hits != lookups/2 {
			t.Errorf("%s: %d of %d lookups found an entry, want half", k.name, hits, lookups)
		}
		t.Logf("%s: %.0f lookups/s (%v each)", k.name, lookups/el.Seconds(), (el / lookups).Round(time.Nanosecond))
	}
	runtime.KeepAlive(a)
}

// writeGrowthAccess writes n lines, a quarter of each kind: Connect: by
// IPv4 address, Connect: by host domain, From: by domain and To: by
// domain, and returns the file's size.
func writeGrowthAccess(t *testing.T, path string, n int) int64 {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n / 4 {
		fmt.Fprintf(w, "Connect:%s REJECT\n", growthIP(i))
		fmt.Fprintf(w, "Connect:client%d.example ERROR:5.7.1:550 go away\n", i)
		fmt.Fprintf(w, "From:sender%d.example REJECT\n", i)
		fmt.Fprintf(w, "To:dest%d.example RELAY\n", i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// growthIP is the i-th address of 10.0.0.0/8 onwards.
func growthIP(i int) netip.Addr {
	v := uint32(10<<24 + i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
