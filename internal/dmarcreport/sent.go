package dmarcreport

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// SentPeriod is one report period of the aggregate reports we sent, as
// the record of claims shows it (dir/sent/ of the file backend, the
// claims of Redis or PostgreSQL): how many
// report messages were queued and whether the period is complete. The
// record names no domain or mailbox (they are hashed).
type SentPeriod struct {
	Begin, End time.Time
	Reports    int  // report messages queued
	Done       bool // every report of the period was queued
}

// SentLister is a Backend that can list its record of the reports sent:
// the periods that end at or after since, newest first. Every backend of
// this package is one; with Redis or PostgreSQL the record is the
// fleet's, whichever node sent the reports.
type SentLister interface {
	Sent(ctx context.Context, since time.Time) ([]SentPeriod, error)
}

// SentReports lists the periods of the file backend in dir that end at
// or after since, newest first. A dir without a record lists none.
func SentReports(dir string, since time.Time) ([]SentPeriod, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "sent"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Name()
	}
	return sentPeriods(keys, since), nil
}

// Sent implements SentLister.
func (b *FileBackend) Sent(ctx context.Context, since time.Time) ([]SentPeriod, error) {
	return SentReports(b.dir, since)
}

// sentPeriods sums claim keys into periods (those ending at or after
// since), newest first; keys of other claims are left out.
func sentPeriods(keys []string, since time.Time) []SentPeriod {
	byKey := map[[2]int64]*SentPeriod{}
	for _, name := range keys {
		begin, end, ok := claimPeriod(name)
		if !ok || end.Before(since) {
			continue
		}
		k := [2]int64{begin.Unix(), end.Unix()}
		p := byKey[k]
		if p == nil {
			p = &SentPeriod{Begin: begin, End: end}
			byKey[k] = p
		}
		switch {
		case strings.Contains(name, ".sent-"):
			p.Reports++
		case strings.HasSuffix(name, ".done"):
			p.Done = true
		}
	}
	out := make([]SentPeriod, 0, len(byKey))
	for _, p := range byKey {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Begin.After(out[j].Begin) })
	return out
}
