package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// OpenRedis is NewRedis for the server: the Redis client's own messages
// (failed dials...) go to log at debug level. It does not connect: the
// server asks Redis once with CheckRedis after it dropped privileges.
func OpenRedis(opts RedisOptions, log *slog.Logger) (*Redis, error) {
	redis.SetLogger(redisLog{log})
	return NewRedis(opts)
}

// CheckRedis asks Redis once; when it does not answer, that is logged
// (with the password left out of the URL): onError (on_backend_error)
// decides per check while it is away.
func CheckRedis(r *Redis, url string, log *slog.Logger, onError string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.Ping(ctx); err != nil {
		log.Error("ratelimit: redis unreachable at start", "url", redactURL(url), "err", err, "on_backend_error", onError)
	}
}

// redactURL hides a password in a Redis URL for the log.
func redactURL(s string) string {
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
