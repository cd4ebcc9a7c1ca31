package alert

import (
	"context"
	"testing"
	"time"

	"postern/internal/history"
)

// gauges is a History that samples at once.
type gauges struct {
	f []func(set func(string, float64))
}

func (g *gauges) Gauge(f func(set func(string, float64))) { g.f = append(g.f, f) }

func (g *gauges) sample() map[string]float64 {
	out := map[string]float64{}
	for _, f := range g.f {
		f(func(n string, v float64) { out[n] = v })
	}
	return out
}

func TestThresholds(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := &gauges{}
	d := newDetector(c, Options{History: h})
	// Factor 3, user floor 5, host floor 1000 (newDetector).
	if got := h.sample(); len(got) != 1 || got[history.ThresholdPrefix+history.Host] != 3000 {
		t.Fatalf("before any mail: %v", got)
	}
	// A user with a baseline above the floor: 10 a window for 10 windows.
	for w := 0; w < 10; w++ {
		for i := 0; i < 10; i++ {
			d.Outbound(context.Background(), "a@example.org")
		}
		c.add(time.Minute)
	}
	got := h.sample()
	if got[history.ThresholdPrefix+"a@example.org"] != 30 || got[history.ThresholdPrefix+history.Host] != 3000 {
		t.Errorf("thresholds: %v", got)
	}
}
