package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// MemoryOptions configure the in-process backend.
type MemoryOptions struct {
	// MaxKeys bounds the keys held (windows, lease sets and values
	// together); 0 means DefaultMaxKeys. When full, expired keys are swept
	// and, if that is not enough, an arbitrary key is dropped: a counter
	// then restarts from zero, which errs on the side of letting mail in.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxKeys keeps the in-process backend to a few tens of MiB.
const DefaultMaxKeys = 200_000

const (
	memShards     = 64
	sweepInterval = time.Minute
)

// Memory is the in-process backend: nothing is shared or survives a
// restart, and it costs a map lookup under a lock.
type Memory struct {
	now    func() time.Time
	seed   maphash.Seed
	perMax int
	shards [memShards]memShard
}

type memShard struct {
	mu        sync.Mutex
	windows   map[string]*memWindow
	leases    map[string]map[string]int64 // key -> holder -> expiry (ms)
	values    map[string]memValue
	nextSweep int64 // ms
}

type memWindow struct {
	w      window
	length int64 // ms
}

type memValue struct {
	v      []byte
	expiry int64 // ms
}

// NewMemory returns an empty in-process backend.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Memory{now: opts.Now, seed: maphash.MakeSeed(), perMax: max(opts.MaxKeys/memShards, 1)}
	for i := range m.shards {
		s := &m.shards[i]
		s.windows = map[string]*memWindow{}
		s.leases = map[string]map[string]int64{}
		s.values = map[string]memValue{}
	}
	return m
}

func (m *Memory) nowMS() int64 { return m.now().UnixMilli() }

// shard returns key's shard, locked, after sweeping it when due.
func (m *Memory) shard(key string, now int64) *memShard {
	s := &m.shards[maphash.String(m.seed, key)%memShards]
	s.mu.Lock()
	if now >= s.nextSweep {
		s.sweep(now)
		s.nextSweep = now + sweepInterval.Milliseconds()
	}
	return s
}

func (s *memShard) size() int { return len(s.windows) + len(s.leases) + len(s.values) }

// sweep drops what has expired: windows idle for two window lengths,
// expired leases and values.
func (s *memShard) sweep(now int64) {
	for k, w := range s.windows {
		if (w.w.index+2)*w.length <= now {
			delete(s.windows, k)
		}
	}
	for k, hs := range s.leases {
		for h, exp := range hs {
			if exp <= now {
				delete(hs, h)
			}
		}
		if len(hs) == 0 {
			delete(s.leases, k)
		}
	}
	for k, v := range s.values {
		if v.expiry <= now {
			delete(s.values, k)
		}
	}
}

// makeRoom is called before adding a key to a full shard.
func (s *memShard) makeRoom(now int64, perMax int) {
	if s.size() < perMax {
		return
	}
	s.sweep(now)
	// Drop arbitrary keys (map order is random) until there is room.
	for k := range s.windows {
		if s.size() < perMax {
			return
		}
		delete(s.windows, k)
	}
	for k := range s.values {
		if s.size() < perMax {
			return
		}
		delete(s.values, k)
	}
	for k := range s.leases {
		if s.size() < perMax {
			return
		}
		delete(s.leases, k)
	}
}

// Hit implements Backend.
func (m *Memory) Hit(ctx context.Context, key string, n int64, win time.Duration, limit int64) (Result, error) {
	if err := checkArgs(n, win); err != nil {
		return Result{}, err
	}
	now := m.nowMS()
	length := win.Milliseconds()
	s := m.shard(key, now)
	defer s.mu.Unlock()
	mw := s.windows[key]
	if mw == nil || mw.length != length {
		if n == 0 {
			_, r := window{}.hit(now, length, 0, limit)
			return r, nil
		}
		if mw == nil {
			s.makeRoom(now, m.perMax)
			mw = &memWindow{}
			s.windows[key] = mw
		}
		*mw = memWindow{length: length}
	}
	var r Result
	mw.w, r = mw.w.hit(now, length, n, limit)
	return r, nil
}

// Acquire implements Backend.
func (m *Memory) Acquire(ctx context.Context, key, holder string, limit int64, ttl time.Duration) (Result, error) {
	if err := checkArgs(0, ttl); err != nil {
		return Result{}, err
	}
	now := m.nowMS()
	s := m.shard(key, now)
	defer s.mu.Unlock()
	hs := s.leases[key]
	for h, exp := range hs {
		if exp <= now {
			delete(hs, h)
		}
	}
	if _, held := hs[holder]; held {
		hs[holder] = now + ttl.Milliseconds()
		return Result{Allowed: true, Count: int64(len(hs))}, nil
	}
	if limit >= 0 && int64(len(hs)) >= limit {
		return Result{Count: int64(len(hs))}, nil
	}
	if hs == nil {
		s.makeRoom(now, m.perMax)
		hs = map[string]int64{}
		s.leases[key] = hs
	}
	hs[holder] = now + ttl.Milliseconds()
	return Result{Allowed: true, Count: int64(len(hs))}, nil
}

// Release implements Backend.
func (m *Memory) Release(ctx context.Context, l Lease) error {
	s := m.shard(l.Key, m.nowMS())
	defer s.mu.Unlock()
	if hs := s.leases[l.Key]; hs != nil {
		delete(hs, l.Holder)
		if len(hs) == 0 {
			delete(s.leases, l.Key)
		}
	}
	return nil
}

// Renew implements Backend.
func (m *Memory) Renew(ctx context.Context, leases []Lease, ttl time.Duration) error {
	if err := checkArgs(0, ttl); err != nil {
		return err
	}
	now := m.nowMS()
	for _, l := range leases {
		s := m.shard(l.Key, now)
		if hs := s.leases[l.Key]; hs != nil {
			if exp, ok := hs[l.Holder]; ok && exp > now {
				hs[l.Holder] = now + ttl.Milliseconds()
			}
		}
		s.mu.Unlock()
	}
	return nil
}

// SetNX implements Backend.
func (m *Memory) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	return m.set(key, value, ttl, true)
}

// Set implements Backend.
func (m *Memory) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := m.set(key, value, ttl, false)
	return err
}

func (m *Memory) set(key string, value []byte, ttl time.Duration, nx bool) (bool, error) {
	if err := checkArgs(0, ttl); err != nil {
		return false, err
	}
	now := m.nowMS()
	s := m.shard(key, now)
	defer s.mu.Unlock()
	old, ok := s.values[key]
	if ok && old.expiry > now && nx {
		return false, nil
	}
	if !ok {
		s.makeRoom(now, m.perMax)
	}
	s.values[key] = memValue{v: append([]byte(nil), value...), expiry: now + ttl.Milliseconds()}
	return true, nil
}

// Get implements Backend.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, bool, error) {
	now := m.nowMS()
	s := m.shard(key, now)
	defer s.mu.Unlock()
	v, ok := s.values[key]
	if !ok || v.expiry <= now {
		return nil, false, nil
	}
	return append([]byte(nil), v.v...), true, nil
}

// Touch implements Backend.
func (m *Memory) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkArgs(0, ttl); err != nil {
		return false, err
	}
	now := m.nowMS()
	s := m.shard(key, now)
	defer s.mu.Unlock()
	v, ok := s.values[key]
	if !ok || v.expiry <= now {
		return false, nil
	}
	v.expiry = now + ttl.Milliseconds()
	s.values[key] = v
	return true, nil
}

// Len returns the number of keys held (for tests and status).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.size()
		s.mu.Unlock()
	}
	return n
}

// Close implements Backend.
func (m *Memory) Close() error { return nil }
