package metrics

import "github.com/prometheus/client_golang/prometheus"

// FileLoad is the load record of one file the server reads and rereads
// (a map, the users file): how many loads failed since start and whether
// the latest one did.
type FileLoad struct {
	Name     string // the map's file name, or "users"
	Failures uint64
	Failing  bool
}

// SetFileLoads gives the function that reads the load records, at each
// scrape.
func (m *Metrics) SetFileLoads(f func() []FileLoad) {
	if m == nil {
		return
	}
	m.queueMu.Lock()
	m.loads = f
	m.queueMu.Unlock()
}

var (
	loadErrorsDesc = prometheus.NewDesc("postern_map_load_errors_total",
		"Failed loads of a map or the users file since start (the previous version stays in force).", []string{"map"}, nil)
	loadFailingDesc = prometheus.NewDesc("postern_map_load_failing",
		"1 while the latest load of a map or the users file failed.", []string{"map"}, nil)
)

type loadsCollector struct{ m *Metrics }

func (c *loadsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- loadErrorsDesc
	ch <- loadFailingDesc
}

func (c *loadsCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.queueMu.Lock()
	f := c.m.loads
	c.m.queueMu.Unlock()
	if f == nil {
		return
	}
	for _, l := range f() {
		failing := 0.0
		if l.Failing {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(loadErrorsDesc, prometheus.CounterValue, float64(l.Failures), l.Name)
		ch <- prometheus.MustNewConstMetric(loadFailingDesc, prometheus.GaugeValue, failing, l.Name)
	}
}
