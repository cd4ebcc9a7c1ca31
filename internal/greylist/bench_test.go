package greylist

import (
	"fmt"
	"testing"
	"time"

	"postern/internal/ratelimit"
	"postern/internal/ratelimit/redistest"
)

// BenchmarkCheckRedis is one recipient's greylist check with the triplets
// kept in Redis, as a fleet keeps them: "new" is a triplet never seen
// (stored, deferred), "known" one that passed before (read, its expiry
// renewed, accepted), the usual case for a regular correspondent.
func BenchmarkCheckRedis(b *testing.B) {
	srv := redistest.Start(b)
	r, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: srv.URL(), Prefix: "greybench:"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	g, ck := setup(0)
	g.Store, g.Now = r, ck.now
	b.Run("new", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if c := try(g, "192.0.2.1", fmt.Sprintf("n%d@x.example", i), "u@example.test"); c != 451 {
				b.Fatalf("new triplet: %d", c)
			}
		}
	})
	const known = 1000
	for i := 0; i < known; i++ {
		try(g, "198.51.100.1", fmt.Sprintf("k%d@x.example", i), "u@example.test")
	}
	ck.t = ck.t.Add(6 * time.Minute)
	b.Run("known", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if c := try(g, "198.51.100.1", fmt.Sprintf("k%d@x.example", i%known), "u@example.test"); c != 250 {
				b.Fatalf("known triplet: %d", c)
			}
		}
	})
}
