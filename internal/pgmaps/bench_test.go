package pgmaps

import (
	"testing"
	"time"

	"postern/internal/testpeer"
)

// BenchmarkFetch10000 is one refresh of a virtusertable of 10,000 rows
// from a real PostgreSQL table in docs/maps.md's layout: what each
// gateway asks of the database every `refresh`.
func BenchmarkFetch10000(b *testing.B) {
	const rows = 10000
	p := testpeer.StartPostgres(b)
	p.Exec(b, layout)
	p.Exec(b, `INSERT INTO postern_maps SELECT 'virtusertable', 'user' || i || '@virtual.example', 'mailbox' || i || '@example.test'
		FROM generate_series(1, 10000) AS i; ANALYZE postern_maps`)
	src, err := New(Options{URL: "postgres://" + p.User + "@" + p.Addr + "/postern?sslmode=disable", Password: p.Password, Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	testpeer.BenchFetch(b, src.Fetch, "virtusertable", rows)
}
