package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueStats describes the queue at one moment.
type QueueStats struct {
	Messages int `json:"messages"` // in the queue
	Deferred int `json:"deferred"` // tried at least once and waiting for a retry
	Held     int `json:"held"`     // kept back on purpose (hold, suspended user)
	// OldestAge is the age of the oldest message; OldestDeferredAge that
	// of the oldest deferred one. Zero when there is none.
	OldestAge         time.Duration `json:"oldest_age"`
	OldestDeferredAge time.Duration `json:"oldest_deferred_age"`
}

// SetQueue gives the function that describes the queue; it is called at
// each scrape and for /status.
func (m *Metrics) SetQueue(f func() QueueStats) {
	if m == nil {
		return
	}
	m.queueMu.Lock()
	m.queue = f
	m.queueMu.Unlock()
}

// Queue describes the queue now (zero without SetQueue).
func (m *Metrics) Queue() QueueStats {
	if m == nil {
		return QueueStats{}
	}
	m.queueMu.Lock()
	f := m.queue
	m.queueMu.Unlock()
	if f == nil {
		return QueueStats{}
	}
	return f()
}

var (
	queueMessagesDesc = prometheus.NewDesc("postern_queue_messages", "Messages in the queue.", nil, nil)
	queueDeferredDesc = prometheus.NewDesc("postern_queue_deferred_messages", "Messages waiting for a retry after a temporary failure.", nil, nil)
	queueHeldDesc     = prometheus.NewDesc("postern_queue_held_messages", "Messages kept in the queue on purpose (hold action, suspended user).", nil, nil)
	queueOldestDesc   = prometheus.NewDesc("postern_queue_oldest_message_age_seconds", "Age of the oldest message in the queue.", nil, nil)
	queueDeferredAge  = prometheus.NewDesc("postern_queue_oldest_deferred_age_seconds", "Age of the oldest deferred message.", nil, nil)
)

// queueCollector asks for the queue's state at scrape time.
type queueCollector struct{ m *Metrics }

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueMessagesDesc
	ch <- queueDeferredDesc
	ch <- queueHeldDesc
	ch <- queueOldestDesc
	ch <- queueDeferredAge
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	q := c.m.Queue()
	ch <- prometheus.MustNewConstMetric(queueMessagesDesc, prometheus.GaugeValue, float64(q.Messages))
	ch <- prometheus.MustNewConstMetric(queueDeferredDesc, prometheus.GaugeValue, float64(q.Deferred))
	ch <- prometheus.MustNewConstMetric(queueHeldDesc, prometheus.GaugeValue, float64(q.Held))
	ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, q.OldestAge.Seconds())
	ch <- prometheus.MustNewConstMetric(queueDeferredAge, prometheus.GaugeValue, q.OldestDeferredAge.Seconds())
}
