package tlsrpt

import "fmt"

// Day is one UTC day's counts, as kept in data_dir/tlsrpt/YYYY-MM-DD.json:
// the policies[] of each policy domain's report.
type Day struct {
	Domains map[string][]*PolicyResult `json:"domains"`
	// DroppedSessions were not counted at all: they came when the day
	// had as many domains (or the domain as many policies) as Limits
	// allow, or the day's counts had used Limits.Bytes.
	DroppedSessions int64 `json:"dropped-sessions,omitempty"`
	// DroppedRows are failures counted in their summary but without a
	// failure-details row, past Limits.FailureRows.
	DroppedRows int64 `json:"dropped-rows,omitempty"`

	rows  int            // failure rows, over every domain
	bytes int            // about what the counts take
	index map[string]int // domain, policy and row key -> row
}

// Limits bound one day's counts; zero fields take the defaults.
type Limits struct {
	Domains     int // policy domains (default 10000)
	Policies    int // policies of one domain (default 8)
	FailureRows int // failure-details rows, over every domain (default 20000)
	Bytes       int // about what the counts may take in memory (default 32 MiB)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Domains, 10000)
	def(&l.Policies, 8)
	def(&l.FailureRows, 20000)
	def(&l.Bytes, 32<<20)
	return l
}

func newDay() *Day { return &Day{Domains: map[string][]*PolicyResult{}, index: map[string]int{}} }

// reindex rebuilds what add needs after the day was read from disk, and
// checks the counts.
func (d *Day) reindex() error {
	if d.Domains == nil {
		d.Domains = map[string][]*PolicyResult{}
	}
	d.index, d.rows, d.bytes = map[string]int{}, 0, 0
	for dom, pols := range d.Domains {
		d.bytes += len(dom) + 64
		for pi, pr := range pols {
			if pr == nil || pr.Policy.Domain != dom || pr.Summary.Successful < 0 || pr.Summary.Failed < 0 {
				return fmt.Errorf("domain %s: bad policy entry %d", dom, pi)
			}
			d.bytes += pr.Policy.size()
			for i, fd := range pr.FailureDetails {
				d.index[rowIndexKey(dom, pi, fd)] = i
				d.rows++
				d.bytes += fd.size()
			}
		}
	}
	return nil
}

func rowIndexKey(dom string, pi int, fd FailureDetail) string {
	return fmt.Sprintf("%s\x00%d\x00%s", dom, pi, fd.rowKey())
}

// add counts one session, within lim.
func (d *Day) add(s Session, lim Limits) {
	var fd *FailureDetail
	if s.Result != "" {
		r := s.detail()
		fd = &r
	}
	d.addRow(s.Policy, fd, 1, lim)
}

// addRow counts n sessions under pol, failed ones with their row fd
// (nil for successes), within lim.
func (d *Day) addRow(pol Policy, fd *FailureDetail, n int64, lim Limits) {
	dom := pol.Domain
	pols, known := d.Domains[dom]
	if !known && len(d.Domains) >= lim.Domains {
		d.DroppedSessions += n
		return
	}
	pi := -1
	for i, pr := range pols {
		if pr.Policy.same(pol) {
			pi = i
			break
		}
	}
	if pi < 0 {
		need := pol.size()
		if !known {
			need += len(dom) + 64
		}
		if len(pols) >= lim.Policies || d.bytes+need > lim.Bytes {
			d.DroppedSessions += n
			return
		}
		d.bytes += need
		pols = append(pols, &PolicyResult{Policy: pol})
		d.Domains[dom] = pols
		pi = len(pols) - 1
	}
	d.count(dom, pi, pols[pi], fd, n, lim)
}

// count adds n sessions to their policy's summary and failure rows.
func (d *Day) count(dom string, pi int, pr *PolicyResult, row *FailureDetail, n int64, lim Limits) {
	if row == nil {
		pr.Summary.Successful += n
		return
	}
	pr.Summary.Failed += n
	fd := *row
	key := rowIndexKey(dom, pi, fd)
	if i, ok := d.index[key]; ok {
		pr.FailureDetails[i].FailedSessionCount += n
		return
	}
	if d.rows >= lim.FailureRows || d.bytes+fd.size() > lim.Bytes {
		d.DroppedRows += n
		return
	}
	fd.FailedSessionCount = n
	pr.FailureDetails = append(pr.FailureDetails, fd)
	d.index[key] = len(pr.FailureDetails) - 1
	d.rows++
	d.bytes += fd.size()
}
