package dmarcreport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"postern/internal/pgschema"
)

// PostgresSchema is what the PostgreSQL backend creates when it is
// missing: the evaluations of every node of a fleet, the record of the
// reports sent, and the leases that let one node at a time send a report.
const PostgresSchema = `
CREATE TABLE IF NOT EXISTS postern_dmarc_evaluations (
    id   bigserial PRIMARY KEY,
    at   timestamptz NOT NULL,
    line text NOT NULL
);
CREATE INDEX IF NOT EXISTS postern_dmarc_evaluations_at ON postern_dmarc_evaluations (at);
CREATE TABLE IF NOT EXISTS postern_dmarc_claims (
    key text PRIMARY KEY,
    at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS postern_dmarc_leases (
    key     text PRIMARY KEY,
    expires timestamptz NOT NULL
);
`

// Postgres is the Backend of a fleet: every node appends its evaluations
// to one database, and the aggregate report of a domain and period is
// built from all of them and sent once (Lease, then Claim).
type Postgres struct {
	pool *pgxpool.Pool

	mu        sync.Mutex
	schemaOK  atomic.Bool
	downUntil atomic.Int64 // unix ns: the tables could not be made
}

// NewPostgres makes the connection pool (it connects lazily); password,
// when set, replaces the URL's.
func NewPostgres(rawURL, password string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("dmarc store: %w", err)
	}
	if password != "" {
		cfg.ConnConfig.Password = password
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("dmarc store: %w", err)
	}
	return &Postgres{pool: pool}, nil
}

// db returns the pool once the tables exist.
func (b *Postgres) db(ctx context.Context) (*pgxpool.Pool, error) {
	if b.schemaOK.Load() {
		return b.pool, nil
	}
	// After a failure, fail at once for a second rather than have every
	// session wait in turn.
	if time.Now().UnixNano() < b.downUntil.Load() {
		return nil, errors.New("dmarc store: database unavailable (recent failure)")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.schemaOK.Load() {
		if err := pgschema.Create(ctx, b.pool, 7361626173, PostgresSchema); err != nil {
			b.downUntil.Store(time.Now().Add(time.Second).UnixNano())
			return nil, fmt.Errorf("dmarc store: creating the tables: %w", err)
		}
		b.schemaOK.Store(true)
	}
	return b.pool, nil
}

// Append implements Backend.
func (b *Postgres) Append(ctx context.Context, e Evaluation) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// Every message waits for this: a database that hangs must not
	// hold the session up for long (the evaluation is then lost).
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	db, err := b.db(ctx)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, "INSERT INTO postern_dmarc_evaluations (at, line) VALUES ($1, $2)", e.Time.UTC(), string(line))
	return err
}

// Scan implements Backend. Rows that do not decode are skipped.
func (b *Postgres) Scan(ctx context.Context, begin, end time.Time, fn func(Evaluation) error) error {
	db, err := b.db(ctx)
	if err != nil {
		return err
	}
	rows, err := db.Query(ctx, "SELECT line FROM postern_dmarc_evaluations WHERE at >= $1 AND at < $2 ORDER BY id", begin.UTC(), end.UTC())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		e, err := DecodeLine([]byte(line))
		if err != nil {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Claim implements Backend: the key is the table's primary key, so of
// two nodes claiming at once exactly one gets true.
func (b *Postgres) Claim(ctx context.Context, key string) (bool, error) {
	return b.insert(ctx, "INSERT INTO postern_dmarc_claims (key) VALUES ($1) ON CONFLICT (key) DO NOTHING", key)
}

// Claimed implements Backend.
func (b *Postgres) Claimed(ctx context.Context, key string) (bool, error) {
	db, err := b.db(ctx)
	if err != nil {
		return false, err
	}
	var ok bool
	err = db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM postern_dmarc_claims WHERE key = $1)", key).Scan(&ok)
	return ok, err
}

// Sent implements SentLister: the claims of every node.
func (b *Postgres) Sent(ctx context.Context, since time.Time) ([]SentPeriod, error) {
	db, err := b.db(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := b.aggregateKeys(ctx, db)
	if err != nil {
		return nil, err
	}
	return sentPeriods(keys, since), nil
}

// aggregateKeys lists the claims of aggregate reports.
func (b *Postgres) aggregateKeys(ctx context.Context, db *pgxpool.Pool) ([]string, error) {
	rows, err := db.Query(ctx, "SELECT key FROM postern_dmarc_claims WHERE key LIKE 'aggregate-%'")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Lease implements Leaser: it takes key for ttl unless another holds it
// (an expired lease, of a node that crashed, is taken over).
func (b *Postgres) Lease(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return b.insert(ctx, `INSERT INTO postern_dmarc_leases AS l VALUES ($1, now() + $2 * interval '1 millisecond')
		ON CONFLICT (key) DO UPDATE SET expires = EXCLUDED.expires WHERE l.expires <= clock_timestamp()`, key, ttl.Milliseconds())
}

// Unlease implements Leaser.
func (b *Postgres) Unlease(ctx context.Context, key string) error {
	db, err := b.db(ctx)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, "DELETE FROM postern_dmarc_leases WHERE key = $1", key)
	return err
}

// insert runs an insert of one row and reports whether it wrote it.
func (b *Postgres) insert(ctx context.Context, sql string, args ...any) (bool, error) {
	db, err := b.db(ctx)
	if err != nil {
		return false, err
	}
	tag, err := db.Exec(ctx, sql, args...)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// Prune deletes the evaluations older than before, the claims of the
// periods that ended before it, and expired leases.
func (b *Postgres) Prune(before time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := b.db(ctx)
	if err != nil {
		return err
	}
	if _, err := db.Exec(ctx, "DELETE FROM postern_dmarc_evaluations WHERE at < $1", before.UTC()); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, "DELETE FROM postern_dmarc_leases WHERE expires < now()"); err != nil {
		return err
	}
	keys, err := b.aggregateKeys(ctx, db)
	if err != nil {
		return err
	}
	var old []string
	for _, k := range keys {
		if _, end, ok := claimPeriod(k); ok && end.Before(before) {
			old = append(old, k)
		}
	}
	_, err = db.Exec(ctx, "DELETE FROM postern_dmarc_claims WHERE key = ANY($1)", old)
	return err
}

// Close closes the pool.
func (b *Postgres) Close() error {
	b.pool.Close()
	return nil
}

// Pool is the connection pool, for the TLS report counts kept in the
// same database.
func (b *Postgres) Pool() *pgxpool.Pool { return b.pool }
