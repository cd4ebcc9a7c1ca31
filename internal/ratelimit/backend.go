// Package ratelimit counts events in keyed time windows, holds
// concurrency leases and a small key/value store with expiry, behind one
// Backend interface with three implementations: in-process (Memory, the
// default), Redis and PostgreSQL (each shared by several postern nodes).
//
// Windows are sliding-window counters: each key keeps the count of the
// current fixed window and of the one before it, and the count "in the
// last window" is the current count plus the previous count weighted by
// the part of the previous window still inside the sliding window
// (Cloudflare's and Redis-cell's approximation). It needs two numbers per
// key, is exact at window boundaries for steady traffic, and never lets a
// client send twice the limit across a boundary as plain fixed windows do.
package ratelimit

import (
	"context"
	"errors"
	"time"
)

// Result is the answer of Hit and Acquire.
type Result struct {
	// Allowed reports whether the event fitted under the limit (and was
	// counted). Events that do not fit are not counted.
	Allowed bool
	// Count is the number of events (or leases) in the window now,
	// including this one when it was allowed.
	Count int64
	// Reset is, when Allowed is false, how long until the same request
	// would fit (an estimate for windows; 0 for leases, which end when
	// their holder releases them).
	Reset time.Duration
}

// Lease names one concurrency slot: Key is what is limited (a client
// address), Holder who holds the slot (node and connection).
type Lease struct {
	Key    string
	Holder string
}

// Backend stores the counters. Implementations are safe for concurrent
// use; every method is atomic on its key.
type Backend interface {
	// Hit adds n events to key's sliding window of the given length and
	// reports whether the total fits under limit. n = 0 only reads.
	// limit < 0 means no limit (the events are only counted).
	Hit(ctx context.Context, key string, n int64, window time.Duration, limit int64) (Result, error)

	// Acquire takes a concurrency slot on key for holder when fewer than
	// limit slots are held (limit < 0: no limit). The slot expires after
	// ttl unless renewed, so the slots of a node that died come free by
	// themselves. Acquiring a slot the holder already has renews it.
	Acquire(ctx context.Context, key, holder string, limit int64, ttl time.Duration) (Result, error)
	// Release gives a slot back; releasing a slot not held is no error.
	Release(ctx context.Context, l Lease) error
	// Renew extends the given slots (those still held) by ttl from now.
	Renew(ctx context.Context, leases []Lease, ttl time.Duration) error

	// SetNX stores value under key for ttl unless key exists; it reports
	// whether it stored it.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Set stores value under key for ttl, replacing any value.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns key's value; ok is false when key does not exist.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Touch sets key's expiry to ttl from now; it reports whether key
	// exists.
	Touch(ctx context.Context, key string, ttl time.Duration) (bool, error)

	// Close releases the backend's resources.
	Close() error
}

// ErrBadArgument is returned for a window or ttl shorter than a
// millisecond or a negative n.
var ErrBadArgument = errors.New("ratelimit: bad argument")

func checkArgs(n int64, d time.Duration) error {
	if n < 0 || d < time.Millisecond {
		return ErrBadArgument
	}
	return nil
}
