package metrics

import (
	"strings"

	"postern/internal/history"
)

// History is the console's store of the same figures (history.Store):
// counts added as they happen, gauges sampled every minute.
type History interface {
	Add(name string, n float64)
	Gauge(f func(set func(name string, v float64)))
}

// SetHistory has the counts (accepted, delivered, deferred, bounced,
// rejected by reason, outbound per user) go to h as well, and h sample
// the queue size. Call it before the server starts.
func (m *Metrics) SetHistory(h History) {
	if m == nil {
		return
	}
	m.history = h
	h.Gauge(func(set func(string, float64)) { set(history.Queue, float64(m.Queue().Messages)) })
}

func (m *Metrics) addHistory(name string) {
	if m != nil && m.history != nil {
		m.history.Add(name, 1)
	}
}

// RejectReason maps a refusal onto the console's reasons
// (history.Reasons), from the words its checker starts the rule with and
// the reply; docs/operations.md ("The console's history") has the
// table.
func RejectReason(rule, enhanced string) string {
	r := strings.ToLower(rule)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.HasPrefix(r, w) {
				return true
			}
		}
		return false
	}
	switch {
	case enhanced == "5.7.1" && strings.Contains(r, "not in trusted_networks"), has("relay access denied"):
		return history.Relay
	case has("spf "):
		return history.SPF
	case has("dmarc "), strings.Contains(r, "from header fields (dmarc"):
		return history.DMARC
	case has("dnsbl ", "listed on "):
		return history.DNSBL
	case has("ratelimit ", "outbound spike alert"):
		return history.Limits
	case has("greylisted"):
		return history.Greylist
	case has("milter "):
		return history.Milter
	case has("early talker", "bare lf", "bare cr", "nul in message", "line too long"),
		strings.HasPrefix(enhanced, "5.5."), enhanced == "5.6.0":
		return history.Protocol
	}
	return history.Other
}
