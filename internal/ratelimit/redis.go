package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure the Redis backend.
type RedisOptions struct {
	// URL is redis://[user:password@]host:port/db (or rediss:// for TLS,
	// unix:///path/to/socket).
	URL string
	// Prefix starts every key, so that several systems can share a
	// database; "" means "postern:".
	Prefix string
	// Timeout bounds each command (dial, read, write); a limit check must
	// never hold up a mail session for long. 0 means 500 ms.
	Timeout time.Duration
}

// Redis is the shared backend: every postern node pointed at the same
// database shares the same counters, leases and values.
//
// After a failure to reach Redis, calls fail at once for a second
// (ErrUnavailable) instead of each waiting for its own timeout, so that a
// Redis that hangs does not slow every SMTP session down.
type Redis struct {
	c         *redis.Client
	prefix    string
	downUntil atomic.Int64 // unix ns
}

// ErrUnavailable is returned while Redis is considered down.
var ErrUnavailable = errors.New("redis unavailable (recent failure)")

// pause is how long calls fail at once after a failure.
const pause = time.Second

// call runs f unless Redis is considered down, and marks it down when f
// fails for another reason than a Lua or argument error.
func (r *Redis) call(f func() error) error {
	if time.Now().UnixNano() < r.downUntil.Load() {
		return ErrUnavailable
	}
	err := f()
	var rerr redis.Error
	if err != nil && !errors.Is(err, redis.Nil) && !errors.As(err, &rerr) && !errors.Is(err, context.Canceled) {
		r.downUntil.Store(time.Now().Add(pause).UnixNano())
	}
	return err
}

// renewBatch bounds the keys of one renew script call.
const renewBatch = 256

// NewRedis connects lazily: a Redis that is down makes the first command
// fail, not NewRedis. It fails only on a bad URL.
func NewRedis(opts RedisOptions) (*Redis, error) {
	o, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("redis_url: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	o.PoolTimeout = opts.Timeout
	// No retries: a failed check is decided by on_backend_error at once.
	o.MaxRetries = -1
	// Keep the RESP2 handshake: it works with every Redis version
	// (and with compatible servers that lack HELLO).
	o.Protocol = 2
	o.DisableIdentity = true
	if opts.Prefix == "" {
		opts.Prefix = "postern:"
	}
	return &Redis{c: redis.NewClient(o), prefix: opts.Prefix}, nil
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	return r.call(func() error { return r.c.Ping(ctx).Err() })
}

func (r *Redis) key(k string) string { return r.prefix + k }

// Hit implements Backend. The script runs with EVALSHA and falls back to
// EVAL when Redis does not know it yet (after a restart or SCRIPT FLUSH).
func (r *Redis) Hit(ctx context.Context, key string, n int64, win time.Duration, limit int64) (Result, error) {
	if err := checkArgs(n, win); err != nil {
		return Result{}, err
	}
	length := win.Milliseconds()
	var v []int64
	err := r.call(func() (err error) {
		v, err = hitScript.Run(ctx, r.c, []string{r.key("w:" + key)}, n, length, max(limit, -1)).Int64Slice()
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("redis hit %s: %w", key, err)
	}
	if len(v) != 5 {
		return Result{}, fmt.Errorf("redis hit %s: unexpected reply %v", key, v)
	}
	res := Result{Allowed: v[0] == 1, Count: v[1]}
	if !res.Allowed {
		res.Reset = resetAfter(v[2], v[3], v[4], length, n, limit)
	}
	return res, nil
}

// Acquire implements Backend.
func (r *Redis) Acquire(ctx context.Context, key, holder string, limit int64, ttl time.Duration) (Result, error) {
	if err := checkArgs(0, ttl); err != nil {
		return Result{}, err
	}
	var v []int64
	err := r.call(func() (err error) {
		v, err = acquireScript.Run(ctx, r.c, []string{r.key("l:" + key)}, holder, max(limit, -1), ttl.Milliseconds()).Int64Slice()
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("redis acquire %s: %w", key, err)
	}
	if len(v) != 2 {
		return Result{}, fmt.Errorf("redis acquire %s: unexpected reply %v", key, v)
	}
	return Result{Allowed: v[0] == 1, Count: v[1]}, nil
}

// Release implements Backend.
func (r *Redis) Release(ctx context.Context, l Lease) error {
	if err := r.call(func() error {
		return releaseScript.Run(ctx, r.c, []string{r.key("l:" + l.Key)}, l.Holder).Err()
	}); err != nil {
		return fmt.Errorf("redis release %s: %w", l.Key, err)
	}
	return nil
}

// Renew implements Backend.
func (r *Redis) Renew(ctx context.Context, leases []Lease, ttl time.Duration) error {
	if err := checkArgs(0, ttl); err != nil {
		return err
	}
	for len(leases) > 0 {
		batch := leases[:min(len(leases), renewBatch)]
		leases = leases[len(batch):]
		keys := make([]string, len(batch))
		args := make([]any, 1, len(batch)+1)
		args[0] = ttl.Milliseconds()
		for i, l := range batch {
			keys[i] = r.key("l:" + l.Key)
			args = append(args, l.Holder)
		}
		if err := r.call(func() error { return renewScript.Run(ctx, r.c, keys, args...).Err() }); err != nil {
			return fmt.Errorf("redis renew: %w", err)
		}
	}
	return nil
}

// SetNX implements Backend.
func (r *Redis) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkArgs(0, ttl); err != nil {
		return false, err
	}
	var ok bool
	err := r.call(func() (err error) {
		ok, err = r.c.SetNX(ctx, r.key("v:"+key), value, ttl).Result()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("redis setnx %s: %w", key, err)
	}
	return ok, nil
}

// Set implements Backend.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkArgs(0, ttl); err != nil {
		return err
	}
	if err := r.call(func() error { return r.c.Set(ctx, r.key("v:"+key), value, ttl).Err() }); err != nil {
		return fmt.Errorf("redis set %s: %w", key, err)
	}
	return nil
}

// Get implements Backend.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := r.call(func() (err error) {
		v, err = r.c.Get(ctx, r.key("v:"+key)).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("redis get %s: %w", key, err)
	}
	return v, true, nil
}

// Touch implements Backend.
func (r *Redis) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkArgs(0, ttl); err != nil {
		return false, err
	}
	var ok bool
	err := r.call(func() (err error) {
		ok, err = r.c.PExpire(ctx, r.key("v:"+key), ttl).Result()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("redis touch %s: %w", key, err)
	}
	return ok, nil
}

// Close implements Backend.
func (r *Redis) Close() error { return r.c.Close() }

// Client is the Redis connection, for the other shared stores of a fleet
// (DMARC's), which use the same database and key prefix.
func (r *Redis) Client() (*redis.Client, string) { return r.c, r.prefix }
