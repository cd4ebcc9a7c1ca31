package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/tlsrpt/tlsrpttest"
)

// built is the report of a day with successes and failures under each
// kind of policy, as the Reporter sends it, decoded.
func built(t *testing.T) (map[string]any, period) {
	t.Helper()
	st, err := OpenStore(t.TempDir(), discard(), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sts := Policy{Type: PolicySTS, Domain: "example.org", String: []string{"version: STSv1", "mode: enforce", "mx: mx.example.org", "max_age: 86400"}, MXHost: []string{"mx.example.org"}}
	tlsa := Policy{Type: PolicyTLSA, Domain: "example.org", String: []string{"3 1 1 0123456789abcdef"}, MXHost: []string{"mx2.example.org"}}
	st.Record(Session{Time: now, Policy: sts, MXHost: "mx.example.org"})
	st.Record(Session{Time: now, Policy: sts, Result: ResultCertificateExpired, MXHost: "mx.example.org",
		ReceivingIP: netip.MustParseAddr("192.0.2.1"), SendingIP: netip.MustParseAddr("2001:db8::2"), Reason: "x509: expired",
		Info: "https://mta-sts.example.org/.well-known/mta-sts.txt"})
	st.Record(Session{Time: now, Policy: tlsa})
	st.Record(Session{Time: now, Policy: tlsa, Result: ResultTLSAInvalid, MXHost: "mx2.example.org", Reason: "DANE: no TLSA record matches"})
	st.Record(Session{Time: now, Policy: Policy{Type: PolicyNoPolicyFound, Domain: "example.org"}, Result: ResultSTARTTLSNotSupported, MXHost: "mx3.example.org"})
	st.Flush()
	r := testReporter(t, st, nil)
	p := dayPeriod(today(now))
	day, err := st.Load(p.begin)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := r.report(p, "example.org", day.Domains["example.org"]).Encode(0)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(gunzip(t, gz), &doc); err != nil {
		t.Fatal(err)
	}
	return doc, p
}

// set changes (or, with del, removes) the member at path ("policies.0.
// summary") of a decoded report.
func set(doc map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	var cur any = doc
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i, _ := strconv.Atoi(p)
			cur = c[i]
		}
	}
	m := cur.(map[string]any)
	if v == del {
		delete(m, parts[len(parts)-1])
	} else {
		m[parts[len(parts)-1]] = v
	}
}

// del, given to set, removes the member.
var del = &struct{}{}

// A report built from a Store's counts meets RFC 8460 4.4's schema, and
// the schema check fails on each way a report can miss it: every
// required member missing, every type wrong, a value outside the RFC's.
func TestReportSchema(t *testing.T) {
	for _, tt := range []struct {
		name, path string
		value      any
		want       string // in the problems; "" means none
	}{
		{name: "as built"},
		{"no organization-name", "organization-name", del, `no "organization-name"`},
		{"no date-range", "date-range", del, `no "date-range"`},
		{"no start-datetime", "date-range.start-datetime", del, `no "start-datetime"`},
		{"no end-datetime", "date-range.end-datetime", del, `no "end-datetime"`},
		{"no contact-info", "contact-info", del, `no "contact-info"`},
		{"no report-id", "report-id", del, `no "report-id"`},
		{"no policies", "policies", del, `no "policies"`},
		{"no policy", "policies.0.policy", del, `no "policy"`},
		{"no policy-type", "policies.0.policy.policy-type", del, `no "policy-type"`},
		{"no policy-domain", "policies.0.policy.policy-domain", del, `no "policy-domain"`},
		{"no summary", "policies.0.summary", del, `no "summary"`},
		{"no successful count", "policies.0.summary.total-successful-session-count", del, `no "total-successful-session-count"`},
		{"no failure count", "policies.0.summary.total-failure-session-count", del, `no "total-failure-session-count"`},
		{"no result-type", "policies.0.failure-details.0.result-type", del, `no "result-type"`},
		{"no failed-session-count", "policies.0.failure-details.0.failed-session-count", del, `no "failed-session-count"`},
		{"organization-name a number", "organization-name", 1.0, "want a string"},
		{"date-time not RFC 3339", "date-range.start-datetime", "2026-01-02 00:00", "not an RFC 3339 date-time"},
		{"policies an object", "policies", map[string]any{}, "want an array"},
		{"policy a string", "policies.0.policy", "sts", "want an object"},
		{"policy-type unknown", "policies.0.policy.policy-type", "dane", "is not one of"},
		{"policy-string a string", "policies.0.policy.policy-string", "version: STSv1", "want an array of strings"},
		{"count negative", "policies.0.summary.total-failure-session-count", -1.0, "want a count"},
		{"count fractional", "policies.0.summary.total-successful-session-count", 1.5, "want a count"},
		{"count a string", "policies.0.failure-details.0.failed-session-count", "1", "want a count"},
		{"result-type unknown", "policies.0.failure-details.0.result-type", "certificate-revoked", "is not one of"},
		{"sending-mta-ip not an address", "policies.0.failure-details.0.sending-mta-ip", "mx.example.org", "not an IP address"},
		{"additional-information not a URI", "policies.0.failure-details.0.additional-information", "see the log", "not a URI"},
		{"a member the RFC has not", "policies.0.summary.total-session-count", 2.0, "is not in RFC 8460 4.4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := built(t)
			if tt.path != "" {
				set(doc, tt.path, tt.value)
			}
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			problems := strings.Join(tlsrpttest.Check(b), "\n")
			switch {
			case tt.want == "" && problems != "":
				t.Errorf("problems:\n%s", problems)
			case tt.want != "" && !strings.Contains(problems, tt.want):
				t.Errorf("no problem %q, got:\n%s", tt.want, problems)
			}
		})
	}
}

// The report built covers the whole UTC day and every policy of the
// domain, with what was counted.
func TestReportContent(t *testing.T) {
	doc, p := built(t)
	dr := doc["date-range"].(map[string]any)
	if dr["start-datetime"] != p.begin.Format("2006-01-02")+"T00:00:00Z" || dr["end-datetime"] != p.begin.Format("2006-01-02")+"T23:59:59Z" {
		t.Errorf("date-range %v", dr)
	}
	pols := doc["policies"].([]any)
	if len(pols) != 3 {
		t.Fatalf("%d policies, want sts, tlsa and no-policy-found", len(pols))
	}
	var types []string
	for _, pr := range pols {
		pr := pr.(map[string]any)
		types = append(types, pr["policy"].(map[string]any)["policy-type"].(string))
		sum := pr["summary"].(map[string]any)
		details := pr["failure-details"].([]any)
		var failed float64
		for _, d := range details {
			failed += d.(map[string]any)["failed-session-count"].(float64)
		}
		if failed != sum["total-failure-session-count"] {
			t.Errorf("%v: the failure rows count %v sessions", sum, failed)
		}
	}
	if strings.Join(types, " ") != "sts tlsa no-policy-found" {
		t.Errorf("policy types %v", types)
	}
}

// The example report of RFC 8460 Appendix B reads into our types and
// comes out the same.
func TestReportRFCExample(t *testing.T) {
	const example = `{
     "organization-name": "Company-X",
     "date-range": {
       "start-datetime": "2016-04-01T00:00:00Z",
       "end-datetime": "2016-04-01T23:59:59Z"
     },
     "contact-info": "sts-reporting@company-x.example",
     "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
     "policies": [{
       "policy": {
         "policy-type": "sts",
         "policy-string": ["version: STSv1","mode: testing",
               "mx: *.mail.company-y.example","max_age: 86400"],
         "policy-domain": "company-y.example",
         "mx-host": ["*.mail.company-y.example"]
       },
       "summary": {
         "total-successful-session-count": 5326,
         "total-failure-session-count": 303
       },
       "failure-details": [{
         "result-type": "certificate-expired",
         "sending-mta-ip": "2001:db8:abcd:0012::1",
         "receiving-mx-hostname": "mx1.mail.company-y.example",
         "failed-session-count": 100
       }, {
         "result-type": "starttls-not-supported",
         "sending-mta-ip": "2001:db8:abcd:0013::1",
         "receiving-mx-hostname": "mx2.mail.company-y.example",
         "receiving-ip": "203.0.113.56",
         "failed-session-count": 200,
         "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
       }, {
         "result-type": "validation-failure",
         "sending-mta-ip": "198.51.100.62",
         "receiving-ip": "203.0.113.58",
         "receiving-mx-hostname": "mx-backup.mail.company-y.example",
         "failed-session-count": 3,
         "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
       }]
     }]
   }`
	var want, got map[string]any
	if err := json.Unmarshal([]byte(example), &want); err != nil {
		t.Fatal(err)
	}
	if problems := tlsrpttest.Check([]byte(example)); len(problems) > 0 {
		t.Errorf("the RFC's example: %v", problems)
	}
	var rep Report
	if err := json.Unmarshal([]byte(example), &rep); err != nil {
		t.Fatal(err)
	}
	gz, err := rep.Encode(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(gunzip(t, gz), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the example does not come out the same:\n got %v\nwant %v", got, want)
	}
}

// A report over the size bound is refused.
func TestReportTooLarge(t *testing.T) {
	rep := &Report{ReportID: "x", Policies: []PolicyResult{{Policy: Policy{Type: PolicyNoPolicyFound, Domain: "example.org"}}}}
	for i := range 2000 {
		rep.Policies[0].FailureDetails = append(rep.Policies[0].FailureDetails, FailureDetail{ResultType: ResultValidationFailure,
			ReceivingIP: netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)}).String(), FailedSessionCount: int64(i)})
	}
	if _, err := rep.Encode(1000); err == nil {
		t.Error("no error over the bound")
	}
}

func gunzip(t *testing.T, gz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
