package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// OpenRedis is NewRedis for the server: the Redis client's own messages
// (failed dials...) go to log at debug level. It does not connect.
func OpenRedis(opts RedisOptions, log *slog.Logger) (*Redis, error) {
	redis.SetLogger(redisLog{log})
	return NewRedis(opts)
}

// Redacted hides a password in a Redis URL for the log.
func Redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// redisLog forwards the Redis client's messages to the log.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", "msg", fmt.Sprintf(format, v...))
}
