package metrics

import "github.com/prometheus/client_golang/prometheus"

// SetBackedOff registers postern_destinations_backed_off, read from n:
// the number of destinations remote delivery has backed off (they did
// not answer; their mail is deferred without a connection). Call it once.
func (m *Metrics) SetBackedOff(n func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "postern", Name: "destinations_backed_off",
		Help: "Destinations backed off now: no server answered, or each answered 4xx or 421."},
		func() float64 { return float64(n()) }))
}
