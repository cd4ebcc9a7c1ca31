// Package history keeps the figures the operator's console plots, in a
// small bounded store of its own under data_dir/history: per minute for
// 48 hours and per hour for 90 days (days are sums of hours), for
// counters (messages accepted, delivered, rejected...) and gauges (the
// queue size, the spike thresholds). It needs no Prometheus.
//
// The store is one file (file.go), written atomically every minute and
// at shutdown and read back at start. A damaged file is moved aside with
// a logged warning and the store starts empty: the plots lose their past,
// mail goes on (CheckDir reports it to postern check).
package history

import (
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// Series names. Rejections are RejectedPrefix + a reason; outbound mail
// and its spike threshold are OutboundPrefix / ThresholdPrefix + the
// authenticated user, or Host for the whole host.
const (
	Accepted        = "accepted"
	Delivered       = "delivered"
	Deferred        = "deferred"
	Bounced         = "bounced"
	RejectedPrefix  = "rejected:"
	Queue           = "queue" // gauge: messages in the queue
	OutboundPrefix  = "outbound:"
	ThresholdPrefix = "threshold:" // gauge: count per alert window that trips the alert
	// Host is the key of the whole host's outbound series.
	Host = "host"
	// Others is the key that sums the users beyond MaxUsers.
	Others = "(others)"
)

// Reasons of rejections, as the console shows them.
const (
	Relay    = "relay"
	SPF      = "spf"
	DMARC    = "dmarc"
	DNSBL    = "dnsbl"
	Limits   = "limits"
	Greylist = "greylist"
	Milter   = "milter"
	Protocol = "protocol" // smuggling and other protocol violations
	Other    = "other"
)

// Reasons lists the rejection reasons in display order.
var Reasons = []string{Relay, SPF, DMARC, DNSBL, Limits, Greylist, Milter, Protocol, Other}

// MaxUsers bounds the per-user series of each prefix (outbound,
// threshold): the outbound mail of further users is summed into
// OutboundPrefix+Others, their thresholds are not kept.
const MaxUsers = 250

// maxSeries bounds the whole store: the users' series of both prefixes,
// the host's and the others', and room for the fixed names.
const maxSeries = 2*MaxUsers + 64

// Bucket counts: 48 hours of minutes, 90 days of hours.
const (
	minutes = 48 * 60
	hours   = 90 * 24
)

type kind uint8

const (
	counter kind = iota
	gauge
)

// series is one name's buckets.
type series struct {
	kind kind
	min  ring
	hour ring
}

func newSeries(k kind) *series {
	return &series{kind: k, min: ring{v: make([]float32, minutes)}, hour: ring{v: make([]float32, hours)}}
}

// Store is the history; its methods are safe for concurrent use.
type Store struct {
	dir string
	log *slog.Logger
	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time

	mu       sync.Mutex
	series   map[string]*series
	users    map[string]int // user series per prefix
	gauges   []func(set func(name string, v float64))
	saveErr  bool // the last save failed (logged once)
	problems []string
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// get returns name's series, made on first use, or nil when the bound
// leaves no room for it. s.mu is held.
func (s *Store) get(name string, k kind) *series {
	if x := s.series[name]; x != nil {
		return x
	}
	if len(name) == 0 || len(name) > maxName || !validName(name) {
		return nil // the file could not hold it
	}
	if p, user, ok := userSeries(name); ok && user != Host && user != Others {
		if s.users[p] >= MaxUsers {
			if p != OutboundPrefix {
				return nil
			}
			return s.get(OutboundPrefix+Others, k)
		}
		s.users[p]++
	}
	if len(s.series) >= maxSeries {
		return nil
	}
	x := newSeries(k)
	s.series[name] = x
	return x
}

// userSeries splits a per-user name into its prefix and key.
func userSeries(name string) (prefix, user string, ok bool) {
	for _, p := range []string{OutboundPrefix, ThresholdPrefix} {
		if u, found := strings.CutPrefix(name, p); found {
			return p, u, true
		}
	}
	return "", "", false
}

// Add counts n more events of name now.
func (s *Store) Add(name string, n float64) {
	s.update(name, counter, func(p *float32, _ bool) { *p += float32(n) })
}

// Set gives gauge name the value v now: the minute keeps the last value
// set, the hour the largest.
func (s *Store) Set(name string, v float64) {
	s.update(name, gauge, func(p *float32, hour bool) {
		if hour {
			*p = max(*p, float32(v))
		} else {
			*p = float32(v)
		}
	})
}

// update applies f to name's minute and hour buckets of now.
func (s *Store) update(name string, k kind, f func(p *float32, hour bool)) {
	t := s.now().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.get(name, k)
	if x == nil {
		return
	}
	if p := x.min.at(t/60, true); p != nil {
		f(p, false)
	}
	if p := x.hour.at(t/3600, true); p != nil {
		f(p, true)
	}
}

// Gauge has f called with a setter every minute (before each save), for
// gauges sampled rather than set as they change: the queue size, the
// thresholds in force.
func (s *Store) Gauge(f func(set func(name string, v float64))) {
	s.mu.Lock()
	s.gauges = append(s.gauges, f)
	s.mu.Unlock()
}

// Series gives the last n buckets of name, oldest first, ending with the
// bucket that holds now. step is time.Minute, time.Hour or 24*time.Hour
// (days are summed from hours, in UTC). Missing buckets are 0. Gauges
// (the queue size) give the last value set in each bucket (for
// hours/days: the largest).
func (s *Store) Series(name string, step time.Duration, n int, now time.Time) []float64 {
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	t := now.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.series[name]
	if x == nil {
		return out
	}
	switch step {
	case time.Minute:
		x.min.read(t/60, out)
	case time.Hour:
		x.hour.read(t/3600, out)
	case 24 * time.Hour:
		day := floorDiv(t, 86400)
		for i := range out {
			d := day - int64(n-1-i)
			for h := d * 24; h < d*24+24; h++ {
				p := x.hour.at(h, false)
				if p == nil {
					continue
				}
				if x.kind == gauge {
					out[i] = max(out[i], float64(*p))
				} else {
					out[i] += float64(*p)
				}
			}
		}
	}
	return out
}

// Names lists the series whose name starts with prefix, sorted.
func (s *Store) Names(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.series {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Problems are what went wrong reading the store at start (a damaged
// file moved aside), for the log and the status page.
func (s *Store) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
