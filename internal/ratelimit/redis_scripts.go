package ratelimit

import "github.com/redis/go-redis/v9"

// The scripts run atomically inside Redis and take the time from Redis
// (TIME), so that nodes with skewed clocks still share one window. Each
// touches only the keys it declares (Redis Cluster safe).

// hitScript: KEYS[1] the window hash {i: window index, c: current count,
// p: previous count}; ARGV n, window ms, limit (-1: none). Returns
// {allowed, estimate, cur, prev, elapsed ms}. The previous window's share
// is rounded up, as in window.estimate.
var hitScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local len = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local idx = math.floor(now / len)
local elapsed = now - idx * len
local v = redis.call('HMGET', KEYS[1], 'i', 'c', 'p')
local si = tonumber(v[1])
local cur = tonumber(v[2]) or 0
local prev = tonumber(v[3]) or 0
if si == idx - 1 then
  prev = cur
  cur = 0
elseif si ~= idx then
  prev = 0
  cur = 0
end
local est = cur + math.floor((prev * (len - elapsed) + len - 1) / len)
if limit >= 0 and est + n > limit then
  return {0, est, cur, prev, elapsed}
end
if n > 0 then
  cur = cur + n
  redis.call('HSET', KEYS[1], 'i', idx, 'c', cur, 'p', prev)
  redis.call('PEXPIRE', KEYS[1], 2 * len)
end
return {1, est + n, cur, prev, elapsed}
`)

// acquireScript: KEYS[1] a sorted set of holders scored by lease expiry
// (ms); ARGV holder, limit (-1: none), ttl ms. Returns {allowed, count}.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  if limit >= 0 and n >= limit then
    return {0, n}
  end
  n = n + 1
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return {1, n}
`)

// releaseScript: KEYS[1] the sorted set; ARGV holder.
var releaseScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`)

// renewScript: KEYS the sorted sets; ARGV[1] ttl ms, then one holder per
// key. Only leases still held are extended.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local s = redis.call('ZSCORE', key, ARGV[i + 1])
  if s and tonumber(s) > now then
    redis.call('ZADD', key, 'XX', now + ttl, ARGV[i + 1])
    if redis.call('PTTL', key) < ttl then
      redis.call('PEXPIRE', key, ttl)
    end
  end
end
return 1
`)
