package spool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/envelope"
)

// BenchmarkCommit measures the accept path: Create, Write 5 KiB, Commit
// (durable: fdatasync or syncfs, rename, directory fsync), with 1, 10 and
// 50 committers at once, for both sync modes. Delivery is not running.
//
//	go test -run '^$' -bench Commit -benchtime 3000x ./internal/spool
func BenchmarkCommit(b *testing.B) {
	line := []byte(string(bytes.Repeat([]byte("x"), 78)) + "\r\n")
	body := append([]byte("Subject: benchmark\r\n\r\n"), bytes.Repeat(line, 5120/len(line))...)
	nop := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		return make([]error, len(rcpts))
	})
	for _, mode := range []struct {
		name string
		m    SyncMode
	}{{"files", SyncFiles}, {"syncfs", SyncFS}} {
		for _, p := range []int{1, 10, 50} {
			b.Run(fmt.Sprintf("%s/c%d", mode.name, p), func(b *testing.B) {
				s, err := New(b.TempDir(), nop, nil, Options{Sync: mode.m})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(body)))
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for g := 0; g < p; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							env := &envelope.Envelope{From: "a@example.org", Rcpts: []envelope.Recipient{{Addr: "b@example.test"}}}
							w, err := s.Create(env)
							if err != nil {
								b.Error(err)
								return
							}
							w.Write(body)
							if err := w.Commit(context.Background()); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// TestCompareSyncModes compares the sync modes in paired rounds (each
// round runs every mode briefly, in turn), which cancels out much of the
// noise of a shared machine. It runs only when POSTERN_COMPARE_SYNC is
// set, e.g.
//
//	POSTERN_COMPARE_SYNC=1 go test -run CompareSyncModes -v ./internal/spool
func TestCompareSyncModes(t *testing.T) {
	if os.Getenv("POSTERN_COMPARE_SYNC") == "" {
		t.Skip("set POSTERN_COMPARE_SYNC=1 to run")
	}
	line := []byte(string(bytes.Repeat([]byte("x"), 78)) + "\r\n")
	body := append([]byte("Subject: benchmark\r\n\r\n"), bytes.Repeat(line, 5120/len(line))...)
	nop := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
		return make([]error, len(rcpts))
	})
	modes := []struct {
		name string
		opt  Options
	}{
		{"files", Options{Sync: SyncFiles}},
		{"files-parallel", Options{Sync: syncFilesParallel}},
		{"syncfs", Options{Sync: SyncFS}},
		{"syncfs-unchecked", Options{Sync: syncFSUnchecked}},
		{"no-group-commit", Options{Sync: SyncFiles, noGroupCommit: true}},
	}
	const rounds, perRound = 15, 200
	for _, c := range []int{1, 10, 50} {
		rates := make([][]float64, len(modes))
		for r := 0; r < rounds; r++ {
			for k := range modes {
				mi := (k + r) % len(modes) // rotate the order
				s, err := New(t.TempDir(), nop, nil, modes[mi].opt)
				if err != nil {
					t.Fatal(err)
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for g := 0; g < c; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= perRound {
							w, err := s.Create(&envelope.Envelope{From: "a@example.org", Rcpts: []envelope.Recipient{{Addr: "b@example.test"}}})
							if err != nil {
								t.Error(err)
								return
							}
							w.Write(body)
							if err := w.Commit(context.Background()); err != nil {
								t.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				rates[mi] = append(rates[mi], perRound/time.Since(start).Seconds())
			}
		}
		for i, m := range modes {
			ratios := make([]float64, rounds)
			for r := range ratios {
				ratios[r] = rates[i][r] / rates[0][r]
			}
			t.Logf("c=%-2d %-17s median %7.0f msgs/s  (min %6.0f, max %6.0f)  median ratio to files %.2f",
				c, m.name, median(rates[i]), slices.Min(rates[i]), slices.Max(rates[i]), median(ratios))
		}
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
