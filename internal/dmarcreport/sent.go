package dmarcreport

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// SentPeriod is one report period of the aggregate reports we sent, as
// the file backend's record of claims (dir/sent/) shows it: how many
// report messages were queued and whether the period is complete. The
// record names no domain or mailbox (they are hashed).
type SentPeriod struct {
	Begin, End time.Time
	Reports    int  // report messages queued
	Done       bool // every report of the period was queued
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
	byKey := map[[2]int64]*SentPeriod{}
	for _, e := range entries {
		name := e.Name()
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
	return out, nil
}
