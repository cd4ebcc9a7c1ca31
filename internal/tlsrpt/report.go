package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"time"
)

// Report is the aggregate report of RFC 8460 4.4, as JSON.
type Report struct {
	OrganizationName string         `json:"organization-name"`
	DateRange        DateRange      `json:"date-range"`
	ContactInfo      string         `json:"contact-info"`
	ReportID         string         `json:"report-id"`
	Policies         []PolicyResult `json:"policies"`
}

// DateRange is the period a report covers; both ends are RFC 3339
// date-times in UTC.
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyResult is one policy applied to a policy domain, and how the
// sessions under it went.
type PolicyResult struct {
	Policy         Policy          `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details"`
}

// Policy is the policy applied (RFC 8460 4.4 "policy"): an MTA-STS
// policy ("sts": String holds the policy file's lines, MXHost its mx
// patterns), DANE TLSA records ("tlsa": String holds the records), or
// none ("no-policy-found").
type Policy struct {
	Type   string   `json:"policy-type"`
	String []string `json:"policy-string,omitempty"`
	Domain string   `json:"policy-domain"`
	MXHost []string `json:"mx-host,omitempty"`
}

// Summary counts the sessions under one policy.
type Summary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

// FailureDetail counts the failed sessions of one kind, to one server.
type FailureDetail struct {
	ResultType          string `json:"result-type"`
	SendingMTAIP        string `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname string `json:"receiving-mx-hostname,omitempty"`
	ReceivingIP         string `json:"receiving-ip,omitempty"`
	FailedSessionCount  int64  `json:"failed-session-count"`
	// AdditionalInformation is a URI with more about the failure (the
	// policy file that does not list the server, say).
	AdditionalInformation string `json:"additional-information,omitempty"`
	// FailureReasonCode is the error met, as text.
	FailureReasonCode string `json:"failure-reason-code,omitempty"`
}

// DefaultMaxReportBytes bounds one compressed report.
const DefaultMaxReportBytes = 1 << 20

// Encode returns the report as JSON, compressed with gzip (RFC 8460 5:
// application/tlsrpt+gzip). An error means it is over maxBytes.
func (r *Report) Encode(maxBytes int) ([]byte, error) {
	for i := range r.Policies {
		if r.Policies[i].FailureDetails == nil {
			r.Policies[i].FailureDetails = []FailureDetail{}
		}
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(doc); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if maxBytes > 0 && gz.Len() > maxBytes {
		return nil, fmt.Errorf("report %s is %d bytes compressed, over %d", r.ReportID, gz.Len(), maxBytes)
	}
	return gz.Bytes(), nil
}
