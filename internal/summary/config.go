package summary

import (
	"context"
	"log/slog"
	"path/filepath"

	"postern/internal/config"
	"postern/internal/dmarcreport"
	"postern/internal/metrics"
)

// Queue tells the queue's size (*metrics.Metrics).
type Queue interface{ Queue() metrics.QueueStats }

// Task builds the server's summary sender from [summary]: the background
// task that sends the summaries through send (into the queue), or a task
// that does nothing when the schedule is off. alerts lists the alerts in
// force when [alert] is on.
func Task(cfg *config.Config, h Series, q Queue, alerts func() []string, send func(ctx context.Context, msg []byte) error, log *slog.Logger) func(context.Context) {
	s := cfg.Summary
	if s.Period <= 0 && s.Schedule != "daily" && s.Schedule != "weekly" {
		return func(context.Context) {}
	}
	opt := Options{Schedule: s.Schedule, Period: s.Period, Hostname: cfg.Hostname, Postmaster: cfg.Postmaster, History: h,
		Reports: dmarcreport.ReceivedStore{Dir: filepath.Join(cfg.DMARCDir(), "received")},
		Queue:   func() int { return q.Queue().Messages }, Send: send, Dir: cfg.HistoryDir(), Log: log}
	if cfg.Alert.Enabled {
		opt.Alerts = alerts
	}
	r, err := New(opt)
	if err != nil {
		return func(context.Context) {} // not reached: the schedule is set
	}
	return r.Run
}
