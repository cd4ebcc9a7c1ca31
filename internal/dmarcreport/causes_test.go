package dmarcreport

import (
	"testing"
	"time"
)

func rec(ip string, n int, dkimEval, spfEval string, dkim []DKIMReport, spf string) Record {
	return Record{
		Row:         Row{SourceIP: ip, Count: Int(n), PolicyEvaluated: PolicyEvaluated{DKIM: dkimEval, SPF: spfEval}},
		Identifiers: Identifiers{HeaderFrom: "example.org"},
		AuthResults: AuthResults{DKIM: dkim, SPF: []SPFReport{{Domain: "example.org", Result: spf}}},
	}
}

// Each rule of Cause, and the order of the failing sources.
func TestFailingCauses(t *testing.T) {
	broken := []DKIMReport{{Domain: "example.org", Result: "fail"}}
	good := []DKIMReport{{Domain: "example.org", Result: "pass"}}
	other := []DKIMReport{{Domain: "esp.example", Result: "pass"}}
	day1 := &Feedback{Metadata: ReportMetadata{OrgName: "google.com", DateRange: DateRange{Begin: 1700000000, End: 1700086400}},
		Records: []Record{
			rec("192.0.2.1", 5, "fail", "fail", nil, "fail"),     // unknown sender
			rec("192.0.2.2", 3, "fail", "fail", broken, "fail"),  // forwarding
			rec("192.0.2.3", 2, "fail", "pass", nil, "pass"),     // SPF passes: DMARC passes
			rec("192.0.2.3", 1, "fail", "fail", nil, "softfail"), // ...its forwarded copy fails
			rec("192.0.2.4", 4, "fail", "fail", other, "pass"),   // passes for another domain
			rec("192.0.2.5", 9, "pass", "pass", good, "pass"),    // all well
		}}
	day2 := &Feedback{Metadata: ReportMetadata{OrgName: "Yahoo", DateRange: DateRange{Begin: 1700086400, End: 1700172800}},
		Records: []Record{rec("192.0.2.5", 1, "pass", "fail", good, "fail")}}
	s := Summarize(time.Unix(0, 0), []*Feedback{day1, day2})
	want := []struct {
		ip, cause string
		fail      int64
	}{
		{"192.0.2.1", CauseUnknown, 5},
		{"192.0.2.4", CauseUnaligned, 4},
		{"192.0.2.2", CauseForwarding, 3},
		{"192.0.2.3", CauseNoDKIM, 1},
	}
	if len(s.Failing) != len(want) {
		t.Fatalf("failing %+v", s.Failing)
	}
	for i, w := range want {
		f := s.Failing[i]
		if f.Key != w.ip || f.Cause != w.cause || f.Fail != w.fail || f.Why == "" {
			t.Errorf("%d: %+v, want %+v", i, f, w)
		}
	}
	if len(s.Days) != 2 || s.Days[0] != (Day{Date: "2023-11-14", Pass: 11, Fail: 13}) || s.Days[1] != (Day{Date: "2023-11-15", Pass: 1}) {
		t.Errorf("days %+v", s.Days)
	}
	if len(s.ByReporter) != 2 || s.ByReporter[0].Key != "google.com" || s.ByReporter[0].Messages != 24 || s.ByReporter[1].Messages != 1 {
		t.Errorf("by reporter %+v", s.ByReporter)
	}
}
