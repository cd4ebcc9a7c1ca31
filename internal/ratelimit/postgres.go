package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"postern/internal/pgschema"
)

// PostgresOptions configure the PostgreSQL backend.
type PostgresOptions struct {
	// URL is a libpq URL (postgres://USER@HOST:PORT/DB?sslmode=verify-full).
	URL string
	// Password, when set, is used instead of one in the URL.
	Password string
	// Prefix starts every key, as in Redis; "" means "postern:".
	Prefix string
	// Timeout bounds each call (a transaction of up to four statements);
	// 0 means 1 s.
	Timeout time.Duration
}

// Postgres is the shared backend for a site that runs PostgreSQL rather
// than Redis. It keeps three tables, created when missing (PostgresSchema):
// windows, leases and values, with the time taken from the database
// (clock_timestamp) so that nodes with skewed clocks share one window.
// Like Redis, after a failure calls fail at once for a second.
type Postgres struct {
	pool      *pgxpool.Pool
	prefix    string
	timeout   time.Duration
	where     string
	downUntil atomic.Int64 // unix ns
	nextSweep atomic.Int64 // unix ns

	schemaMu sync.Mutex
	schemaOK bool
}

// PostgresSchema is what the backend creates when it is missing (the
// role needs CREATE on the database's public schema, or an administrator
// runs this first). Times are milliseconds since 1970 (database clock).
const PostgresSchema = `
CREATE TABLE IF NOT EXISTS postern_rate_windows (
    key     text PRIMARY KEY,
    idx     bigint NOT NULL,
    cur     bigint NOT NULL,
    prev    bigint NOT NULL,
    length  bigint NOT NULL,
    expires bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS postern_rate_leases (
    key     text NOT NULL,
    holder  text NOT NULL,
    expires bigint NOT NULL,
    PRIMARY KEY (key, holder)
);
CREATE TABLE IF NOT EXISTS postern_rate_values (
    key     text PRIMARY KEY,
    value   bytea NOT NULL,
    expires bigint NOT NULL
);
`

// nowMS is the database's time in milliseconds.
const nowMS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`

// NewPostgres checks the options and makes the connection pool, which
// connects lazily: a database that is down makes the first call fail, not
// NewPostgres.
func NewPostgres(opts PostgresOptions) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres_url: %w", err)
	}
	if opts.Password != "" {
		cfg.ConnConfig.Password = opts.Password
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Prefix == "" {
		opts.Prefix = "postern:"
	}
	cfg.ConnConfig.ConnectTimeout = opts.Timeout
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres_url: %w", err)
	}
	where := "(unparsable)"
	if u, err := url.Parse(opts.URL); err == nil {
		where = u.Redacted()
	}
	return &Postgres{pool: pool, prefix: opts.Prefix, timeout: opts.Timeout, where: where}, nil
}

// Where is the database's URL without its password, for the log.
func (p *Postgres) Where() string { return p.where }

// call runs f with the timeout, after creating the tables once, unless
// the database is considered down; it marks it down when f fails.
func (p *Postgres) call(ctx context.Context, op, key string, f func(ctx context.Context) error) error {
	if time.Now().UnixNano() < p.downUntil.Load() {
		return fmt.Errorf("postgres %s %s: %w", op, key, ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	err := p.ensureSchema(ctx)
	if err == nil {
		err = f(ctx)
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			p.downUntil.Store(time.Now().Add(pause).UnixNano())
		}
		return fmt.Errorf("postgres %s %s: %w", op, key, err)
	}
	p.maybeSweep()
	return nil
}

func (p *Postgres) ensureSchema(ctx context.Context) error {
	p.schemaMu.Lock()
	defer p.schemaMu.Unlock()
	if p.schemaOK {
		return nil
	}
	if err := pgschema.Create(ctx, p.pool, 7361626172, PostgresSchema); err != nil {
		return fmt.Errorf("creating the tables: %w", err)
	}
	p.schemaOK = true
	return nil
}

// maybeSweep deletes expired rows, at most once a minute per node, in
// the background.
func (p *Postgres) maybeSweep() {
	now := time.Now().UnixNano()
	next := p.nextSweep.Load()
	if now < next || !p.nextSweep.CompareAndSwap(next, now+int64(sweepInterval)) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, t := range []string{"postern_rate_windows", "postern_rate_leases", "postern_rate_values"} {
			p.pool.Exec(ctx, "DELETE FROM "+t+" WHERE expires <= "+nowMS)
		}
	}()
}

func (p *Postgres) key(k string) string { return p.prefix + k }
