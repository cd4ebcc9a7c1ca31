package metrics

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"postern/internal/history"
)

// Reject is one refusal, as /status and `postern status` show it.
type Reject struct {
	Time   time.Time `json:"time"`
	Conn   string    `json:"conn"`
	Client string    `json:"client"`
	Stage  string    `json:"stage"`
	Code   int       `json:"code"`
	// Enhanced is the reply's enhanced status code (RFC 3463), if any.
	Enhanced string `json:"enhanced,omitempty"`
	Rule     string `json:"rule"`
}

// Rejected counts a refusal and remembers it among the recent ones. rule
// is the free-text reason; the metric's reason label is a short key made
// from its first words (see ReasonKey). It is counted by the console's
// reason too (RejectReason), in the metrics and the history.
func (m *Metrics) Rejected(r Reject) {
	if m == nil {
		return
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	m.rejects.WithLabelValues(r.Stage, strconv.Itoa(r.Code), m.reason.key(r.Rule)).Inc()
	reason := RejectReason(r.Rule, r.Enhanced)
	m.rejectReasons.WithLabelValues(reason).Inc()
	m.addHistory(history.RejectedPrefix + reason)
	m.recent.add(r)
}

// RecentRejects returns the latest refusals, newest first.
func (m *Metrics) RecentRejects() []Reject {
	if m == nil {
		return nil
	}
	return m.recent.list()
}

type recentRejects struct {
	mu   sync.Mutex
	max  int
	ring []Reject
	next int
}

func (r *recentRejects) add(x Reject) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ring) < r.max {
		r.ring = append(r.ring, x)
		return
	}
	r.ring[r.next] = x
	r.next = (r.next + 1) % r.max
}

func (r *recentRejects) list() []Reject {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Reject, 0, len(r.ring))
	for i := len(r.ring) - 1; i >= 0; i-- {
		out = append(out, r.ring[(r.next+i)%len(r.ring)])
	}
	return out
}

// maxReasons bounds the reason label's values; later new keys count as
// "other", so that free text can never grow the metric without bound.
const maxReasons = 64

type reasonKeys struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (k *reasonKeys) key(rule string) string {
	r := ReasonKey(rule)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seen == nil {
		k.seen = map[string]bool{}
	}
	if !k.seen[r] {
		if len(k.seen) >= maxReasons {
			return "other"
		}
		k.seen[r] = true
	}
	return r
}

// ReasonKey makes a short label from a rule text: its first (up to three)
// words of lower-case letters, joined by '_', stopping at the first word
// with anything else in it (an address, a number, a colon). "early
// talker: spoke before the greeting" gives "early_talker"; a rule with
// no such word gives "other".
func ReasonKey(rule string) string {
	var words []string
	for _, w := range strings.Fields(rule) {
		if len(words) == 3 {
			break
		}
		// A word ending in ':', ';' or ',' ends the key.
		end := strings.TrimRight(w, ":;,")
		if end == "" || !lowerWord(end) {
			break
		}
		words = append(words, end)
		if end != w {
			break
		}
	}
	if len(words) == 0 {
		return "other"
	}
	return strings.Join(words, "_")
}

func lowerWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if (w[i] < 'a' || w[i] > 'z') && w[i] != '-' {
			return false
		}
	}
	return true
}
