package greylist

import (
	"context"
	"sync"
	"time"
)

// Store keeps the greylist state: keys with values that expire. It is
// the key/value part of the rate limits' backend (internal/ratelimit's
// Memory and Redis satisfy it), so several postern nodes sharing a Redis
// share one greylist.
type Store interface {
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
}

// Memory is an in-process Store, bounded in size.
type Memory struct {
	// Max is the most keys held; 0 means 200000. When full, expired keys
	// go first, then arbitrary ones.
	Max int
	Now func() time.Time // nil means time.Now

	mu   sync.Mutex
	vals map[string]memValue
}

type memValue struct {
	v     []byte
	until time.Time
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// get returns the live entry; callers hold mu.
func (m *Memory) get(key string, now time.Time) (memValue, bool) {
	e, ok := m.vals[key]
	if ok && !now.Before(e.until) {
		delete(m.vals, key)
		return memValue{}, false
	}
	return e, ok
}

func (m *Memory) put(key string, v []byte, ttl time.Duration, now time.Time) {
	if m.vals == nil {
		m.vals = map[string]memValue{}
	}
	max := m.Max
	if max <= 0 {
		max = 200000
	}
	if _, exists := m.vals[key]; !exists && len(m.vals) >= max {
		for k, e := range m.vals {
			if !now.Before(e.until) {
				delete(m.vals, k)
			}
		}
		for k := range m.vals {
			if len(m.vals) < max {
				break
			}
			delete(m.vals, k)
		}
	}
	m.vals[key] = memValue{v: append([]byte(nil), v...), until: now.Add(ttl)}
}

// SetNX implements Store.
func (m *Memory) SetNX(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if _, ok := m.get(key, now); ok {
		return false, nil
	}
	m.put(key, value, ttl, now)
	return true, nil
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(key, value, ttl, m.now())
	return nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.get(key, m.now())
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), e.v...), true, nil
}

// Touch implements Store.
func (m *Memory) Touch(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, ok := m.get(key, now)
	if !ok {
		return false, nil
	}
	e.until = now.Add(ttl)
	m.vals[key] = e
	return true, nil
}
