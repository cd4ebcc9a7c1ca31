package metrics

import (
	"sync"
	"testing"

	"postern/internal/history"
)

func TestRejectReason(t *testing.T) {
	tests := []struct{ rule, enhanced, want string }{
		{"recipient domain example.com is not local; client 192.0.2.1 is not in trusted_networks, has no access Connect: RELAY entry and is not authenticated", "5.7.1", history.Relay},
		{"relay access denied", "5.7.1", history.Relay},
		{"SPF fail: example.com does not designate 192.0.2.1 (spf.reject_fail)", "5.7.23", history.SPF},
		{"DMARC fail for example.com (policy domain example.com, p=reject, disposition reject)", "5.7.1", history.DMARC},
		{"2 From header fields (dmarc.enforce)", "5.7.1", history.DMARC},
		{"dnsbl zen.example lists 192.0.2.1 (127.0.0.2)", "5.7.1", history.DNSBL},
		{"ratelimit ip 192.0.2.1: 10 messages per minute", "4.7.0", history.Limits},
		{"outbound spike alert in force for the host", "4.7.1", history.Limits},
		{"greylisted (new triplet): 192.0.2.0/24, <a@b>, <c@d>", "4.7.1", history.Greylist},
		{"milter spam: reject at data", "5.7.1", history.Milter},
		{"early talker: spoke before the greeting", "5.5.1", history.Protocol},
		{"bare CR or LF in message not allowed", "5.6.0", history.Protocol},
		{"syntax error", "5.5.2", history.Protocol},
		{"user a@example.org is suspended", "", history.Other},
		{"no such user", "5.1.1", history.Other},
		{"", "", history.Other},
	}
	for _, tc := range tests {
		if got := RejectReason(tc.rule, tc.enhanced); got != tc.want {
			t.Errorf("RejectReason(%q, %q) = %q, want %q", tc.rule, tc.enhanced, got, tc.want)
		}
	}
}

// adds is a History that remembers what was added.
type adds struct {
	mu sync.Mutex
	n  map[string]float64
}

func (a *adds) Add(name string, n float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n[name] += n
}

func (a *adds) Gauge(func(set func(string, float64))) {}

func TestHistoryFeed(t *testing.T) {
	m := New()
	h := &adds{n: map[string]float64{}}
	m.SetHistory(h)
	m.Delivered("delivered", 0)
	m.Delivered("paced", 0)
	m.Delivered("bounced", 0)
	m.Rejected(Reject{Stage: "rcpt", Code: 550, Enhanced: "5.7.1", Rule: "relay access denied"})
	if h.n[history.Delivered] != 1 || h.n[history.Bounced] != 1 || h.n[history.RejectedPrefix+history.Relay] != 1 || len(h.n) != 3 {
		t.Errorf("history got %v", h.n)
	}
	var nilM *Metrics
	nilM.SetHistory(h)
	nilM.addHistory(history.Accepted)
}
