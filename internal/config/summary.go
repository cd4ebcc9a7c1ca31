package config

import (
	"path/filepath"
	"time"
)

// Summary is the [summary] table: a report mail to the postmaster with
// the console's overview figures and the DMARC review.
type Summary struct {
	// Schedule is "off" (the default), "daily" (each UTC day, sent
	// after midnight UTC) or "weekly" (Monday to Sunday, UTC).
	Schedule string `toml:"schedule"`
	// Period, when set, replaces the schedule by a fixed period counted
	// from the epoch (for tests and trials: "5m" sends every five
	// minutes); at least 1s.
	Period time.Duration `toml:"period"`
}

// HistoryDir holds the console's history store and the record of the
// summary mails sent.
func (c *Config) HistoryDir() string { return filepath.Join(c.DataDir, "history") }

// summary validates [summary].
func (d *decoder) summary(c *Config) {
	s := &c.Summary
	switch s.Schedule {
	case "":
		s.Schedule = "off"
	case "off", "daily", "weekly":
	default:
		d.errorf("summary.schedule", "summary.schedule must be \"off\", \"daily\" or \"weekly\", not %q", s.Schedule)
	}
	if d.defined["summary.period"] && s.Period < time.Second {
		d.errorf("summary.period", "summary.period must be at least 1s")
	}
}
