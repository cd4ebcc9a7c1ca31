package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// LimitsSnapshot is what the rate and concurrency limits count on their
// own (limits.Limits keeps these), read at each scrape.
type LimitsSnapshot struct {
	Refusals      map[string]uint64 // by limit (config key), plus "backend_error"
	Backend       string            // "memory" or "redis", for the backend label
	BackendErrors uint64
	Open          int64 // connections open on this node
}

// SetLimits gives the function that reads the limits' own counters.
func (m *Metrics) SetLimits(f func() LimitsSnapshot) {
	if m == nil {
		return
	}
	m.queueMu.Lock()
	m.limits = f
	m.queueMu.Unlock()
}

var (
	rateHitsDesc      = prometheus.NewDesc("postern_ratelimit_hits_total", "Clients or users held back by a rate or concurrency limit, by limit.", []string{"limit"}, nil)
	backendErrorsDesc = prometheus.NewDesc("postern_backend_errors_total", "Failures to reach a shared backend (Redis).", []string{"backend"}, nil)
	openConnsDesc     = prometheus.NewDesc("postern_connections_open", "SMTP connections open now on this node.", nil, nil)
)

// limitsCollector merges the limits' own counters with those counted
// through the Recorder (RateLimitHit, BackendError).
type limitsCollector struct{ m *Metrics }

func (c *limitsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- rateHitsDesc
	ch <- backendErrorsDesc
	ch <- openConnsDesc
}

func (c *limitsCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.queueMu.Lock()
	f := m.limits
	hits := make(map[string]uint64, len(m.rateHits))
	for k, v := range m.rateHits {
		hits[k] = v
	}
	errs := make(map[string]uint64, len(m.backendErrs))
	for k, v := range m.backendErrs {
		errs[k] = v
	}
	m.queueMu.Unlock()
	var open int64
	if f != nil {
		s := f()
		for k, v := range s.Refusals {
			hits[k] += v
		}
		if s.BackendErrors > 0 {
			b := s.Backend
			if b == "" {
				b = "ratelimit"
			}
			errs[b] += s.BackendErrors
		}
		open = s.Open
	}
	for _, k := range sortedKeys(hits) {
		ch <- prometheus.MustNewConstMetric(rateHitsDesc, prometheus.CounterValue, float64(hits[k]), k)
	}
	for _, k := range sortedKeys(errs) {
		ch <- prometheus.MustNewConstMetric(backendErrorsDesc, prometheus.CounterValue, float64(errs[k]), k)
	}
	if f != nil {
		ch <- prometheus.MustNewConstMetric(openConnsDesc, prometheus.GaugeValue, float64(open))
	}
}

func sortedKeys(m map[string]uint64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
