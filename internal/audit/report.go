package audit

import "time"

// Status is the outcome of one check.
type Status string

// The statuses, from best to worst; Skip means the check could not run or
// did not apply and counts neither for nor against the score.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// rank orders statuses by severity.
func (s Status) rank() int {
	switch s {
	case Fail:
		return 3
	case Warn:
		return 2
	case Pass:
		return 1
	}
	return 0
}

// worst returns the more severe of a and b.
func worst(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// SchemaVersion is the version of the JSON report layout (docs/audit.md).
// It changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// Report is the whole audit: every check in a fixed order.
type Report struct {
	Schema   int       `json:"schema"`
	Target   string    `json:"target"`
	Domain   string    `json:"domain,omitempty"`
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Checks   []Check   `json:"checks"`
	Summary  Summary   `json:"summary"`
}

// Summary counts the checks by status. Score is the percentage of passed
// checks among those that ran (skips left out).
type Summary struct {
	Pass  int `json:"pass"`
	Warn  int `json:"warn"`
	Fail  int `json:"fail"`
	Skip  int `json:"skip"`
	Score int `json:"score"`
}

// Check is one item of the checklist.
type Check struct {
	ID       string   `json:"id"`       // stable identifier, e.g. "relay.open"
	Category string   `json:"category"` // relay, smtp, tls, auth, smuggling, dns
	Title    string   `json:"title"`
	Status   Status   `json:"status"`
	Detail   string   `json:"detail"`             // what was found, one or a few sentences
	Fix      string   `json:"fix,omitempty"`      // what to do about it (absent on pass)
	Evidence []string `json:"evidence,omitempty"` // SMTP exchange (C:/S: lines) or DNS answers
	Probes   []Probe  `json:"probes,omitempty"`   // relay and smuggling probes, one per attempt
}

// Probe is one attempt of a multi-attempt check.
type Probe struct {
	Name    string `json:"name"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Result  string `json:"result"` // accepted, refused, sender-refused, error, ...
	Reply   string `json:"reply,omitempty"`
	Verdict Status `json:"verdict"`
}

func (r *Report) add(c Check) {
	if c.Status == Pass {
		c.Fix = ""
	}
	r.Checks = append(r.Checks, c)
}

func (r *Report) summarize() {
	s := Summary{}
	for _, c := range r.Checks {
		switch c.Status {
		case Pass:
			s.Pass++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		default:
			s.Skip++
		}
	}
	if ran := s.Pass + s.Warn + s.Fail; ran > 0 {
		s.Score = s.Pass * 100 / ran
	}
	r.Summary = s
}

// ExitStatus is the process exit status for CI: 0 when every check passed
// (or was skipped), 1 when there are warnings, 2 when anything failed.
func (r *Report) ExitStatus() int {
	switch {
	case r.Summary.Fail > 0:
		return 2
	case r.Summary.Warn > 0:
		return 1
	}
	return 0
}

// Find returns the check with the given id, or nil.
func (r *Report) Find(id string) *Check {
	for i := range r.Checks {
		if r.Checks[i].ID == id {
			return &r.Checks[i]
		}
	}
	return nil
}
