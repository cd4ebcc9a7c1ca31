// Package metrics holds postern's Prometheus collectors and the admin
// HTTP listener that serves them (/metrics), a health check (/healthz) and
// a status summary (/status, read by `postern status`).
//
// A *Metrics is the Recorder other parts of the server are given: every
// method is safe on a nil *Metrics (metrics off) and for concurrent use.
package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Recorder is what policy stages count through; *Metrics implements it.
// Stages declare the subset they use.
type Recorder interface {
	// AuthResult counts one SPF, DKIM or DMARC result: method is "spf",
	// "dkim" or "dmarc", result the RFC 8601 result word ("pass",
	// "fail", "softfail", "neutral", "none", "temperror", "permerror",
	// "policy").
	AuthResult(method, result string)
	// RateLimitHit counts a client or user held back by a limit; limit is
	// a short fixed name such as "connections_per_ip" or "auth_failures".
	RateLimitHit(limit string)
	// DNSBLHit counts a client found on a DNS list, by the list's zone.
	DNSBLHit(zone string)
	// BackendError counts an unreachable shared backend ("redis").
	BackendError(backend string)
}

// Metrics is every collector of one server, in its own registry (no
// package-level state).
type Metrics struct {
	reg *prometheus.Registry

	connections   *prometheus.CounterVec
	sessions      *prometheus.CounterVec
	rejects       *prometheus.CounterVec
	rejectReasons *prometheus.CounterVec // by the console's reasons
	accepted      *prometheus.CounterVec
	acceptedBytes prometheus.Counter
	outbound      *prometheus.CounterVec
	authResults   *prometheus.CounterVec
	dnsblHits     *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	latency       prometheus.Histogram
	attempt       prometheus.Histogram
	alerts        *prometheus.CounterVec

	queueMu     sync.Mutex // guards the fields below
	queue       func() QueueStats
	limits      func() LimitsSnapshot
	loads       func() []FileLoad
	rateHits    map[string]uint64 // through the Recorder
	backendErrs map[string]uint64

	recent  recentRejects
	reason  reasonKeys
	history History // nil: no history (SetHistory)
}

// Labels and buckets are part of the documented contract (docs/operations.md).
func newCounter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "postern", Name: name, Help: help}, labels)
}

// New makes the collectors and registers them, with Go runtime and
// process collectors, in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg:           prometheus.NewRegistry(),
		connections:   newCounter("connections_total", "SMTP connections accepted by a listener.", "listener"),
		sessions:      newCounter("sessions_total", "SMTP connections ended, by whether they used TLS.", "listener", "tls"),
		rejects:       newCounter("rejects_total", "Refusals sent to clients, by SMTP stage, reply code and short reason.", "stage", "code", "reason"),
		rejectReasons: newCounter("rejects_by_reason_total", "Refusals sent to clients, by the console's reason (relay, spf, dmarc, dnsbl, limits, greylist, milter, protocol, other).", "reason"),
		accepted:      newCounter("messages_accepted_total", "Messages put in the queue.", "listener", "tls", "auth"),
		acceptedBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "postern", Name: "messages_accepted_bytes_total",
			Help: "Size of the messages put in the queue."}),
		outbound:    newCounter("outbound_messages_total", "Messages accepted for a remote recipient, by authenticated user (\"-\" for trusted networks).", "user"),
		authResults: newCounter("auth_results_total", "SPF, DKIM and DMARC results of received mail.", "method", "result"),
		dnsblHits:   newCounter("dnsbl_hits_total", "Clients found on a DNS block list.", "zone"),
		deliveries:  newCounter("deliveries_total", "Delivery results per recipient: delivered, deferred, bounced or paced (the destination could not take it yet).", "result"),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "postern", Name: "delivery_latency_seconds",
			Help:    "Time from a message's arrival to its delivery to a recipient.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}}),
		attempt: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "postern", Name: "delivery_attempt_seconds",
			Help:    "Time one delivery attempt took.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}}),
		alerts: newCounter("alerts_total", "Outbound spike alerts, by scope (user or host).", "scope"),
	}
	m.recent.max = 20
	m.reg.MustRegister(m.connections, m.sessions, m.rejects, m.rejectReasons, m.accepted, m.acceptedBytes, m.outbound,
		m.authResults, m.dnsblHits, m.deliveries, m.latency, m.attempt, m.alerts,
		&queueCollector{m: m}, &limitsCollector{m: m}, &loadsCollector{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the collectors live, for the admin listener and tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// AuthResult implements Recorder.
func (m *Metrics) AuthResult(method, result string) {
	if m != nil {
		m.authResults.WithLabelValues(strings.ToLower(method), strings.ToLower(result)).Inc()
	}
}

// RateLimitHit implements Recorder.
func (m *Metrics) RateLimitHit(limit string) {
	if m != nil {
		m.queueMu.Lock()
		if m.rateHits == nil {
			m.rateHits = map[string]uint64{}
		}
		m.rateHits[limit]++
		m.queueMu.Unlock()
	}
}

// DNSBLHit implements Recorder.
func (m *Metrics) DNSBLHit(zone string) {
	if m != nil {
		m.dnsblHits.WithLabelValues(strings.ToLower(strings.TrimSuffix(zone, "."))).Inc()
	}
}

// BackendError implements Recorder.
func (m *Metrics) BackendError(backend string) {
	if m != nil {
		m.queueMu.Lock()
		if m.backendErrs == nil {
			m.backendErrs = map[string]uint64{}
		}
		m.backendErrs[backend]++
		m.queueMu.Unlock()
	}
}

// Alert counts an outbound spike alert; scope is "user" or "host".
func (m *Metrics) Alert(scope string) {
	if m != nil {
		m.alerts.WithLabelValues(scope).Inc()
	}
}

// Delivered counts one recipient's delivery result ("delivered",
// "deferred" or "bounced"); latency is from arrival, for delivered mail.
func (m *Metrics) Delivered(result string, latency time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(result).Inc()
	if result != "paced" {
		m.addHistory(result) // the history's names are the results'
	}
	if result == "delivered" {
		m.latency.Observe(latency.Seconds())
	}
}

// Attempt records how long one delivery attempt took.
func (m *Metrics) Attempt(d time.Duration) {
	if m != nil {
		m.attempt.Observe(d.Seconds())
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
