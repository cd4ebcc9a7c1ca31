package tlsrpt

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Tally is where the gateways of a fleet add up their counts (Redis or
// PostgreSQL): Add adds each row's count to the day's, at once (all or
// none); Rows returns the day's rows with every node's counts summed.
// A row is the JSON of one policy and failure row (see rowField).
type Tally interface {
	Add(ctx context.Context, day string, rows map[string]int64) error
	Rows(ctx context.Context, day string) (map[string]int64, error)
	Days(ctx context.Context) ([]string, error)
	Prune(ctx context.Context, before string) error
}

// Counts is what the Reporter reads and writes the counts through: the
// node's own Store, or a SharedStore.
type Counts interface {
	Record(Session)
	Flush() error
	Days() ([]time.Time, error)
	Load(day time.Time) (*Day, error)
	Prune(before time.Time) error
	Close() error
}

// SharedStore counts sessions in memory and adds them to a Tally at
// each Flush (every minute, from the Reporter); a Flush that fails keeps
// them for the next. Reports are built from the Tally: every node's
// counts.
type SharedStore struct {
	tally Tally
	log   *slog.Logger
	lim   Limits

	mu      sync.Mutex
	pending map[string]map[string]int64 // day -> row -> count
}

// NewSharedStore counts into t.
func NewSharedStore(t Tally, log *slog.Logger, lim Limits) *SharedStore {
	return &SharedStore{tally: t, log: log, lim: lim.withDefaults(), pending: map[string]map[string]int64{}}
}

// row is one row of a Tally: a policy, and the failure row of failed
// sessions (nil for successes).
type row struct {
	Policy Policy         `json:"p"`
	Fail   *FailureDetail `json:"f,omitempty"`
}

// decodeRow reads a row of a Tally; false for one that is not a row.
func decodeRow(k string) (row, bool) {
	var r row
	if err := json.Unmarshal([]byte(k), &r); err != nil || r.Policy.Domain == "" {
		return row{}, false
	}
	if r.Fail != nil && !KnownResult(r.Fail.ResultType) {
		return row{}, false
	}
	return r, true
}

// Record implements Counts.
func (s *SharedStore) Record(sess Session) {
	if sess.Policy.Domain == "" {
		return
	}
	r := row{Policy: sess.Policy}
	if sess.Result != "" {
		fd := sess.detail()
		r.Fail = &fd
	}
	data, err := json.Marshal(r)
	if err != nil {
		return
	}
	date := sess.Time.UTC().Format(dayFormat)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[date] == nil {
		s.pending[date] = map[string]int64{}
	}
	s.pending[date][string(data)]++
}

// Flush implements Counts: the counts so far go to the Tally.
func (s *SharedStore) Flush() error {
	s.mu.Lock()
	pending := s.pending
	s.pending = map[string]map[string]int64{}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var failed error
	for date, rows := range pending {
		if err := s.tally.Add(ctx, date, rows); err != nil {
			failed = fmt.Errorf("TLS report counts of %s: %w", date, err)
			s.keep(date, rows)
		}
	}
	return failed
}

// keep puts counts not added back, for the next Flush.
func (s *SharedStore) keep(date string, rows map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[date] == nil {
		s.pending[date] = map[string]int64{}
	}
	for k, n := range rows {
		s.pending[date][k] += n
	}
}

// Settle is how long after its end a day's counts are complete: every
// node has written its last ones (Flush runs every minute).
const Settle = 3 * time.Minute

func (s *SharedStore) settle() time.Duration { return Settle }

// Days implements Counts.
func (s *SharedStore) Days() ([]time.Time, error) {
	dates, err := s.tally.Days(context.Background())
	if err != nil {
		return nil, err
	}
	sort.Strings(dates)
	var out []time.Time
	for _, d := range dates {
		if t, err := time.Parse(dayFormat, d); err == nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// Load implements Counts: the day's counts of every node. A row that
// cannot be read is passed over and logged.
func (s *SharedStore) Load(day time.Time) (*Day, error) {
	date := day.UTC().Format(dayFormat)
	rows, err := s.tally.Rows(context.Background(), date)
	if err != nil {
		return nil, fmt.Errorf("TLS report counts of %s: %w", date, err)
	}
	d := newDay()
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	// In one order, so that every node builds the same report.
	sort.Strings(keys)
	for _, k := range keys {
		n := rows[k]
		r, ok := decodeRow(k)
		if !ok || n < 0 {
			s.log.Warn("TLS report counts: a row that cannot be read passed over", "day", date)
			continue
		}
		d.addRow(r.Policy, r.Fail, n, s.lim)
	}
	return d, nil
}

// Prune implements Counts.
func (s *SharedStore) Prune(before time.Time) error {
	return s.tally.Prune(context.Background(), before.UTC().Format(dayFormat))
}

// Close implements Counts.
func (s *SharedStore) Close() error { return s.Flush() }
