package testpeer

import (
	"context"
	"strings"
	"testing"
)

// BenchFetch times fetch, a map source's read of one map from its peer
// (a directory, a database), b.N times, and fails the benchmark when the
// map's text does not have the given number of lines.
func BenchFetch(b *testing.B, fetch func(ctx context.Context, file string) ([]byte, error), file string, lines int) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		text, err := fetch(context.Background(), file)
		if err != nil {
			b.Fatal(err)
		}
		if n := strings.Count(string(text), "\n"); n != lines {
			b.Fatalf("%s: %d lines, want %d", file, n, lines)
		}
	}
}
