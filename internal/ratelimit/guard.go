package ratelimit

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Guard applies the on_backend_error policy: when the backend fails
// (Redis unreachable), the caller either lets the client through (fail
// open, the default: a broken Redis must not stop mail) or answers with a
// temporary error (fail closed). Every failure is counted; the log gets at
// most one line per LogEvery so that a Redis outage does not flood it.
type Guard struct {
	FailOpen bool
	Log      *slog.Logger
	// LogEvery spaces the error log lines; 0 means 10 seconds.
	LogEvery time.Duration

	errors  atomic.Uint64
	lastLog atomic.Int64 // unix ns
}

// Failed records a backend error for op and reports whether the caller
// should let the client through.
func (g *Guard) Failed(ctx context.Context, op string, err error) (allow bool) {
	n := g.errors.Add(1)
	every := g.LogEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	now := time.Now().UnixNano()
	last := g.lastLog.Load()
	if now-last >= int64(every) && g.lastLog.CompareAndSwap(last, now) && g.Log != nil {
		g.Log.ErrorContext(ctx, "ratelimit backend error", "op", op, "err", err,
			"fail_open", g.FailOpen, "errors_total", n)
	}
	return g.FailOpen
}

// Errors is the number of backend errors since start (for metrics).
func (g *Guard) Errors() uint64 { return g.errors.Load() }
