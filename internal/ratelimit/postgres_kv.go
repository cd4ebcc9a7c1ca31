package ratelimit

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Acquire implements Backend. An advisory lock on the key serialises the
// acquirers of one key (a row lock cannot: the slots are several rows).
func (p *Postgres) Acquire(ctx context.Context, key, holder string, limit int64, ttl time.Duration) (Result, error) {
	if err := checkArgs(0, ttl); err != nil {
		return Result{}, err
	}
	k := p.key(key)
	var res Result
	err := p.call(ctx, "acquire", key, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, k); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM postern_rate_leases WHERE key = $1 AND expires <= `+nowMS, k); err != nil {
				return err
			}
			var count int64
			var held bool
			if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(bool_or(holder = $2), false) FROM postern_rate_leases WHERE key = $1`, k, holder).Scan(&count, &held); err != nil {
				return err
			}
			if !held {
				if limit >= 0 && count >= limit {
					res = Result{Count: count}
					return nil
				}
				count++
			}
			res = Result{Allowed: true, Count: count}
			_, err := tx.Exec(ctx, `INSERT INTO postern_rate_leases VALUES ($1, $2, `+nowMS+` + $3)
				ON CONFLICT (key, holder) DO UPDATE SET expires = EXCLUDED.expires`, k, holder, ttl.Milliseconds())
			return err
		})
	})
	return res, err
}

// Release implements Backend.
func (p *Postgres) Release(ctx context.Context, l Lease) error {
	return p.call(ctx, "release", l.Key, func(ctx context.Context) error {
		_, err := p.pool.Exec(ctx, `DELETE FROM postern_rate_leases WHERE key = $1 AND holder = $2`, p.key(l.Key), l.Holder)
		return err
	})
}

// Renew implements Backend: one statement for every lease.
func (p *Postgres) Renew(ctx context.Context, leases []Lease, ttl time.Duration) error {
	if err := checkArgs(0, ttl); err != nil {
		return err
	}
	keys := make([]string, len(leases))
	holders := make([]string, len(leases))
	for i, l := range leases {
		keys[i], holders[i] = p.key(l.Key), l.Holder
	}
	return p.call(ctx, "renew", "", func(ctx context.Context) error {
		_, err := p.pool.Exec(ctx, `UPDATE postern_rate_leases l SET expires = `+nowMS+` + $3
			FROM unnest($1::text[], $2::text[]) AS r(key, holder)
			WHERE l.key = r.key AND l.holder = r.holder AND l.expires > `+nowMS, keys, holders, ttl.Milliseconds())
		return err
	})
}

// SetNX implements Backend: an expired value counts as missing.
func (p *Postgres) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkArgs(0, ttl); err != nil {
		return false, err
	}
	value = nonNil(value)
	var stored bool
	err := p.call(ctx, "setnx", key, func(ctx context.Context) error {
		err := p.pool.QueryRow(ctx, `INSERT INTO postern_rate_values AS v VALUES ($1, $2, `+nowMS+` + $3)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires
			WHERE v.expires <= `+nowMS+` RETURNING true`, p.key(key), value, ttl.Milliseconds()).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			stored, err = false, nil
		}
		return err
	})
	return stored, err
}

// Set implements Backend.
func (p *Postgres) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkArgs(0, ttl); err != nil {
		return err
	}
	value = nonNil(value)
	return p.call(ctx, "set", key, func(ctx context.Context) error {
		_, err := p.pool.Exec(ctx, `INSERT INTO postern_rate_values VALUES ($1, $2, `+nowMS+` + $3)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires`, p.key(key), value, ttl.Milliseconds())
		return err
	})
}

// Get implements Backend.
func (p *Postgres) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	found := true
	err := p.call(ctx, "get", key, func(ctx context.Context) error {
		err := p.pool.QueryRow(ctx, `SELECT value FROM postern_rate_values WHERE key = $1 AND expires > `+nowMS, p.key(key)).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			found, err = false, nil
		}
		return err
	})
	if err != nil || !found {
		return nil, false, err
	}
	return v, true, nil
}

// Touch implements Backend.
func (p *Postgres) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkArgs(0, ttl); err != nil {
		return false, err
	}
	var n int64
	err := p.call(ctx, "touch", key, func(ctx context.Context) error {
		tag, err := p.pool.Exec(ctx, `UPDATE postern_rate_values SET expires = `+nowMS+` + $2
			WHERE key = $1 AND expires > `+nowMS, p.key(key), ttl.Milliseconds())
		n = tag.RowsAffected()
		return err
	})
	return n > 0, err
}

// Ping checks that the database answers and that the tables exist.
func (p *Postgres) Ping(ctx context.Context) error {
	return p.call(ctx, "ping", "", func(ctx context.Context) error { return p.pool.Ping(ctx) })
}

// Close implements Backend.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// nonNil keeps an empty value from being stored as NULL.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
