package tlsrpt

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Tally of a fleet that shares a Redis: one hash per day
// (row -> count, added with HINCRBY in one MULTI), and a set of the days.
type Redis struct {
	c    *redis.Client
	day  string // the prefix of a day's hash
	days string // the set of the days
}

// NewRedis uses c, with keys under prefix + "tlsrpt:".
func NewRedis(c *redis.Client, prefix string) *Redis {
	return &Redis{c: c, day: prefix + "tlsrpt:d:", days: prefix + "tlsrpt:days"}
}

func (b *Redis) dayKey(date string) string { return b.day + date }

// Add implements Tally.
func (b *Redis) Add(ctx context.Context, date string, rows map[string]int64) error {
	_, err := b.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for k, n := range rows {
			p.HIncrBy(ctx, b.dayKey(date), k, n)
		}
		// Kept past the days its reports may still be sent.
		p.Expire(ctx, b.dayKey(date), 24*time.Hour+2*Retention)
		p.SAdd(ctx, b.days, date)
		return nil
	})
	return err
}

// Rows implements Tally.
func (b *Redis) Rows(ctx context.Context, date string) (map[string]int64, error) {
	m, err := b.c.HGetAll(ctx, b.dayKey(date)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// Days implements Tally.
func (b *Redis) Days(ctx context.Context) ([]string, error) {
	return b.c.SMembers(ctx, b.days).Result()
}

// Prune implements Tally: the days before before are dropped.
func (b *Redis) Prune(ctx context.Context, before string) error {
	days, err := b.Days(ctx)
	if err != nil {
		return err
	}
	for _, d := range days {
		if d < before {
			if err := b.c.Del(ctx, b.dayKey(d)).Err(); err != nil {
				return err
			}
			if err := b.c.SRem(ctx, b.days, d).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}
