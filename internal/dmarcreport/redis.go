package dmarcreport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Backend of a fleet that shares a Redis: every node's
// evaluations go into one sorted set per UTC day (scored by time, kept
// for Retention after the day), claims are keys set with SET NX, and a
// report's lease is a key with an expiry.
type Redis struct {
	c      *redis.Client
	prefix string
}

// NewRedis uses c, with keys under prefix + "dmarc:".
func NewRedis(c *redis.Client, prefix string) *Redis {
	return &Redis{c: c, prefix: prefix + "dmarc:"}
}

func (b *Redis) dayKey(t time.Time) string {
	return b.prefix + "e:" + t.UTC().Format(dayFormat)
}

// Append implements Backend. Each member starts with a random tag, so
// that two equal evaluations are both kept.
func (b *Redis) Append(ctx context.Context, e Evaluation) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	var tag [8]byte
	rand.Read(tag[:])
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	key := b.dayKey(e.Time)
	_, err = b.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(e.Time.UnixMilli()), Member: hex.EncodeToString(tag[:]) + string(line)})
		// Kept a while after the last evaluation of the day: longer
		// than the day's reports may still be sent.
		p.Expire(ctx, key, 24*time.Hour+2*Retention)
		return nil
	})
	return err
}

// Scan implements Backend.
func (b *Redis) Scan(ctx context.Context, begin, end time.Time, fn func(Evaluation) error) error {
	lo, hi := strconv.FormatInt(begin.UnixMilli(), 10), "("+strconv.FormatInt(end.UnixMilli(), 10)
	for d := begin.UTC().Truncate(24 * time.Hour); d.Before(end); d = d.Add(24 * time.Hour) {
		members, err := b.c.ZRangeByScore(ctx, b.dayKey(d), &redis.ZRangeBy{Min: lo, Max: hi}).Result()
		if err != nil {
			return err
		}
		for _, m := range members {
			if len(m) < 16 {
				continue
			}
			e, err := DecodeLine([]byte(m[16:]))
			if err != nil {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// claimTTL keeps a period's claims as long as its evaluations (the
// record that reports have started, for ever in effect).
func claimTTL(key string) time.Duration {
	if _, end, ok := claimPeriod(key); ok {
		return max(time.Until(end.Add(2*Retention)), time.Hour)
	}
	return 10 * 365 * 24 * time.Hour
}

// Claim implements Backend: SET NX, so of two nodes exactly one gets true.
func (b *Redis) Claim(ctx context.Context, key string) (bool, error) {
	return b.c.SetNX(ctx, b.prefix+"c:"+key, time.Now().UTC().Format(time.RFC3339), claimTTL(key)).Result()
}

// Claimed implements Backend.
func (b *Redis) Claimed(ctx context.Context, key string) (bool, error) {
	n, err := b.c.Exists(ctx, b.prefix+"c:"+key).Result()
	return n == 1, err
}

// Sent implements SentLister: the claims of every node, found by their
// key's prefix (SCAN, a page of keys at a time).
func (b *Redis) Sent(ctx context.Context, since time.Time) ([]SentPeriod, error) {
	prefix := b.prefix + "c:"
	var keys []string
	iter := b.c.Scan(ctx, 0, globEscape(prefix)+"aggregate-*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, strings.TrimPrefix(iter.Val(), prefix))
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	return sentPeriods(keys, since), nil
}

// globEscape makes s match itself in a Redis key pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Lease implements Leaser.
func (b *Redis) Lease(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return b.c.SetNX(ctx, b.prefix+"l:"+key, "1", ttl).Result()
}

// Unlease implements Leaser.
func (b *Redis) Unlease(ctx context.Context, key string) error {
	err := b.c.Del(ctx, b.prefix+"l:"+key).Err()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// Close implements the store's Close: the client is the rate limits'
// and closed with them.
func (b *Redis) Close() error { return nil }

// Prune implements the TLS reports' Claims: Redis drops the keys of a
// period by their expiry, so there is nothing to do.
func (b *Redis) Prune(before time.Time) error { return nil }
