package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// field is one member of RFC 8460 4.4's report: its JSON type and
// whether the RFC requires it. Objects list their members.
type field struct {
	kind     string // "string", "date-time", "integer", "strings", "object", "objects"
	required bool
	members  map[string]field
}

// rfcSchema is the report of RFC 8460 4.4, written from the RFC's text
// (section 4.4 and the example of Appendix B), not from our types.
var rfcSchema = map[string]field{
	"organization-name": {kind: "string", required: true},
	"date-range": {kind: "object", required: true, members: map[string]field{
		"start-datetime": {kind: "date-time", required: true},
		"end-datetime":   {kind: "date-time", required: true},
	}},
	"contact-info": {kind: "string", required: true},
	"report-id":    {kind: "string", required: true},
	"policies": {kind: "objects", required: true, members: map[string]field{
		"policy": {kind: "object", required: true, members: map[string]field{
			"policy-type":   {kind: "string", required: true},
			"policy-string": {kind: "strings"},
			"policy-domain": {kind: "string", required: true},
			"mx-host":       {kind: "strings"},
		}},
		"summary": {kind: "object", required: true, members: map[string]field{
			"total-successful-session-count": {kind: "integer", required: true},
			"total-failure-session-count":    {kind: "integer", required: true},
		}},
		"failure-details": {kind: "objects", members: map[string]field{
			"result-type":            {kind: "string", required: true},
			"sending-mta-ip":         {kind: "string"},
			"receiving-mx-hostname":  {kind: "string"},
			"receiving-mx-helo":      {kind: "string"},
			"receiving-ip":           {kind: "string"},
			"failed-session-count":   {kind: "integer", required: true},
			"additional-information": {kind: "string"},
			"failure-reason-code":    {kind: "string"},
		}},
	}},
}

// checkShape walks a decoded JSON object against the schema.
func checkShape(t *testing.T, path string, obj map[string]any, schema map[string]field) {
	t.Helper()
	for name, f := range schema {
		if _, ok := obj[name]; !ok && f.required {
			t.Errorf("%s: no %q", path, name)
		}
	}
	for name, v := range obj {
		f, ok := schema[name]
		if !ok {
			t.Errorf("%s: %q is not in RFC 8460 4.4", path, name)
			continue
		}
		checkValue(t, path+"."+name, v, f)
	}
}

func checkValue(t *testing.T, path string, v any, f field) {
	t.Helper()
	switch f.kind {
	case "string":
		if _, ok := v.(string); !ok {
			t.Errorf("%s: %T, want a string", path, v)
		}
	case "date-time":
		s, _ := v.(string)
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			t.Errorf("%s: %v is not an RFC 3339 date-time", path, v)
		}
	case "integer":
		n, ok := v.(float64)
		if !ok || n != float64(int64(n)) || n < 0 {
			t.Errorf("%s: %v, want a count", path, v)
		}
	case "strings":
		l, ok := v.([]any)
		for _, s := range l {
			if _, isStr := s.(string); !isStr {
				ok = false
			}
		}
		if !ok {
			t.Errorf("%s: %v, want an array of strings", path, v)
		}
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %T, want an object", path, v)
		}
		checkShape(t, path, m, f.members)
	case "objects":
		l, ok := v.([]any)
		if !ok {
			t.Fatalf("%s: %T, want an array", path, v)
		}
		for _, e := range l {
			checkValue(t, path+"[]", e, field{kind: "object", members: f.members})
		}
	}
}

// A report built from a Store's counts has RFC 8460 4.4's shape.
func TestReportShape(t *testing.T) {
	st, err := OpenStore(t.TempDir(), discard(), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sts := Policy{Type: PolicySTS, Domain: "example.org", String: []string{"version: STSv1", "mode: enforce", "mx: mx.example.org", "max_age: 86400"}, MXHost: []string{"mx.example.org"}}
	st.Record(Session{Time: now, Policy: sts, MXHost: "mx.example.org"})
	st.Record(Session{Time: now, Policy: sts, Result: ResultCertificateExpired, MXHost: "mx.example.org",
		ReceivingIP: netip.MustParseAddr("192.0.2.1"), SendingIP: netip.MustParseAddr("198.51.100.2"), Reason: "x509: expired",
		Info: "https://mta-sts.example.org/.well-known/mta-sts.txt"})
	st.Record(Session{Time: now, Policy: Policy{Type: PolicyNoPolicyFound, Domain: "example.org"}, Result: ResultSTARTTLSNotSupported, MXHost: "mx2.example.org"})
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
	checkShape(t, "report", doc, rfcSchema)
	dr := doc["date-range"].(map[string]any)
	if dr["start-datetime"] != p.begin.Format("2006-01-02")+"T00:00:00Z" || dr["end-datetime"] != p.begin.Format("2006-01-02")+"T23:59:59Z" {
		t.Errorf("date-range %v", dr)
	}
	if pols := doc["policies"].([]any); len(pols) != 2 {
		t.Errorf("%d policies, want sts and no-policy-found", len(pols))
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
	checkShape(t, "example", want, rfcSchema)
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
