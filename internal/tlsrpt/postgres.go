package tlsrpt

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"postern/internal/pgschema"
)

// PostgresSchema is the table of the fleet's TLS report counts, created
// when missing: one row per day and row (rowsum is a hash of row, which
// may be longer than an index allows).
const PostgresSchema = `
CREATE TABLE IF NOT EXISTS postern_tlsrpt_counts (
    day    date NOT NULL,
    rowsum text NOT NULL,
    row    text NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (day, rowsum)
);
`

// Postgres is the Tally of a fleet that shares a PostgreSQL database:
// counts are added with INSERT ... ON CONFLICT DO UPDATE, in one
// transaction per Add.
type Postgres struct {
	pool *pgxpool.Pool

	mu       sync.Mutex
	schemaOK bool
}

// NewPostgres uses pool (dmarcreport.Postgres's).
func NewPostgres(pool *pgxpool.Pool) *Postgres { return &Postgres{pool: pool} }

// db returns the pool once the table exists.
func (b *Postgres) db(ctx context.Context) (*pgxpool.Pool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.schemaOK {
		if err := pgschema.Create(ctx, b.pool, 7361626174, PostgresSchema); err != nil {
			return nil, fmt.Errorf("TLS report counts: creating the table: %w", err)
		}
		b.schemaOK = true
	}
	return b.pool, nil
}

// Add implements Tally.
func (b *Postgres) Add(ctx context.Context, date string, rows map[string]int64) error {
	db, err := b.db(ctx)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for k, n := range rows {
			_, err := tx.Exec(ctx, `INSERT INTO postern_tlsrpt_counts AS c VALUES ($1, $2, $3, $4)
ON CONFLICT (day, rowsum) DO UPDATE SET n = c.n + excluded.n`, date, digest(k), k, n)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Rows implements Tally.
func (b *Postgres) Rows(ctx context.Context, date string) (map[string]int64, error) {
	db, err := b.db(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, "SELECT row, n FROM postern_tlsrpt_counts WHERE day = $1", date)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Days implements Tally.
func (b *Postgres) Days(ctx context.Context) ([]string, error) {
	db, err := b.db(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, "SELECT DISTINCT to_char(day, 'YYYY-MM-DD') FROM postern_tlsrpt_counts")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Prune implements Tally.
func (b *Postgres) Prune(ctx context.Context, before string) error {
	db, err := b.db(ctx)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, "DELETE FROM postern_tlsrpt_counts WHERE day < $1", before)
	return err
}
