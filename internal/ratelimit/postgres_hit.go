package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Hit implements Backend: the row is locked for the transaction, so that
// concurrent hits on one key from every node are counted one by one.
func (p *Postgres) Hit(ctx context.Context, key string, n int64, win time.Duration, limit int64) (Result, error) {
	if err := checkArgs(n, win); err != nil {
		return Result{}, err
	}
	length := win.Milliseconds()
	var res Result
	err := p.call(ctx, "hit", key, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			if n > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO postern_rate_windows VALUES ($1, 0, 0, 0, $2, 0) ON CONFLICT (key) DO NOTHING`, p.key(key), length); err != nil {
					return err
				}
			}
			var w window
			var wlen, now int64
			err := tx.QueryRow(ctx, `SELECT w.idx, w.cur, w.prev, w.length, `+nowMS+` FROM (SELECT 1) one
				LEFT JOIN (SELECT * FROM postern_rate_windows WHERE key = $1 FOR UPDATE) w ON true`, p.key(key)).
				Scan(nullInt(&w.index), nullInt(&w.cur), nullInt(&w.prev), nullInt(&wlen), &now)
			if err != nil {
				return err
			}
			if wlen != length {
				w = window{} // a window of another length starts over, as in Memory
			}
			w, res = w.hit(now, length, n, limit)
			if n == 0 || !res.Allowed {
				return nil
			}
			_, err = tx.Exec(ctx, `UPDATE postern_rate_windows SET idx = $2, cur = $3, prev = $4, length = $5, expires = $6 WHERE key = $1`,
				p.key(key), w.index, w.cur, w.prev, length, (w.index+2)*length)
			return err
		})
	})
	return res, err
}

// nullInt scans a NULL (no row) as 0.
func nullInt(v *int64) any { return &nullable{v} }

type nullable struct{ v *int64 }

func (n *nullable) Scan(src any) error {
	switch s := src.(type) {
	case nil:
		*n.v = 0
	case int64:
		*n.v = s
	default:
		return fmt.Errorf("unexpected %T", src)
	}
	return nil
}
