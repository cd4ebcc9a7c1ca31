package dmarcreport

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Feedback is an aggregate report (RFC 7489 Appendix C), as generated
// and as parsed. Element order follows the schema's sequences.
type Feedback struct {
	XMLName  xml.Name        `xml:"feedback" json:"-"`
	Version  string          `xml:"version,omitempty" json:"version,omitempty"`
	Metadata ReportMetadata  `xml:"report_metadata" json:"report_metadata"`
	Policy   PolicyPublished `xml:"policy_published" json:"policy_published"`
	Records  []Record        `xml:"record" json:"records"`
	// Problems lists what a lenient parse had to skip or could not read.
	Problems []string `xml:"-" json:"problems,omitempty"`
}

// ReportMetadata identifies the reporter and the period.
type ReportMetadata struct {
	OrgName          string    `xml:"org_name" json:"org_name"`
	Email            string    `xml:"email" json:"email"`
	ExtraContactInfo string    `xml:"extra_contact_info,omitempty" json:"extra_contact_info,omitempty"`
	ReportID         string    `xml:"report_id" json:"report_id"`
	DateRange        DateRange `xml:"date_range" json:"date_range"`
	Errors           []string  `xml:"error,omitempty" json:"error,omitempty"`
}

// DateRange is the period covered, in seconds since the epoch (UTC).
type DateRange struct {
	Begin Int `xml:"begin" json:"begin"`
	End   Int `xml:"end" json:"end"`
}

// PolicyPublished is the policy record the reporter found.
type PolicyPublished struct {
	Domain string `xml:"domain" json:"domain"`
	ADKIM  string `xml:"adkim,omitempty" json:"adkim,omitempty"`
	ASPF   string `xml:"aspf,omitempty" json:"aspf,omitempty"`
	P      string `xml:"p" json:"p"`
	SP     string `xml:"sp" json:"sp"`
	Pct    Int    `xml:"pct" json:"pct"`
	FO     string `xml:"fo" json:"fo"`
}

// Record is one row: messages from one source with the same results.
type Record struct {
	Row         Row         `xml:"row" json:"row"`
	Identifiers Identifiers `xml:"identifiers" json:"identifiers"`
	AuthResults AuthResults `xml:"auth_results" json:"auth_results"`
}

// Row holds the source, the count and the evaluated policy.
type Row struct {
	SourceIP        string          `xml:"source_ip" json:"source_ip"`
	Count           Int             `xml:"count" json:"count"`
	PolicyEvaluated PolicyEvaluated `xml:"policy_evaluated" json:"policy_evaluated"`
}

// PolicyEvaluated is the DMARC outcome for the row.
type PolicyEvaluated struct {
	Disposition string         `xml:"disposition" json:"disposition"`
	DKIM        string         `xml:"dkim" json:"dkim"`
	SPF         string         `xml:"spf" json:"spf"`
	Reasons     []ReasonReport `xml:"reason,omitempty" json:"reason,omitempty"`
}

// ReasonReport is a PolicyOverrideReason.
type ReasonReport struct {
	Type    string `xml:"type" json:"type"`
	Comment string `xml:"comment,omitempty" json:"comment,omitempty"`
}

// Identifiers are the domains of the row's messages.
type Identifiers struct {
	EnvelopeTo   string `xml:"envelope_to,omitempty" json:"envelope_to,omitempty"`
	EnvelopeFrom string `xml:"envelope_from" json:"envelope_from"`
	HeaderFrom   string `xml:"header_from" json:"header_from"`
}

// AuthResults are the raw DKIM and SPF results.
type AuthResults struct {
	DKIM []DKIMReport `xml:"dkim" json:"dkim,omitempty"`
	SPF  []SPFReport  `xml:"spf" json:"spf"`
}

// DKIMReport is one DKIM result.
type DKIMReport struct {
	Domain      string `xml:"domain" json:"domain"`
	Selector    string `xml:"selector,omitempty" json:"selector,omitempty"`
	Result      string `xml:"result" json:"result"`
	HumanResult string `xml:"human_result,omitempty" json:"human_result,omitempty"`
}

// SPFReport is one SPF result.
type SPFReport struct {
	Domain string `xml:"domain" json:"domain"`
	Scope  string `xml:"scope,omitempty" json:"scope,omitempty"`
	Result string `xml:"result" json:"result"`
}

// Int is an integer element that also accepts the "1337270400.0" some
// reporters write.
type Int int64

// UnmarshalText parses a decimal integer, tolerating a zero fraction.
func (n *Int) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = Int(i)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 9e18 || f < -9e18 {
		return fmt.Errorf("%q is not an integer", s)
	}
	*n = Int(f)
	return nil
}

// MarshalText writes the integer.
func (n Int) MarshalText() ([]byte, error) { return strconv.AppendInt(nil, int64(n), 10), nil }

// Namespace is the RFC 7489 Appendix C target namespace.
const Namespace = "http://dmarc.org/dmarc-xml/0.1"

// MarshalReport renders the report as the Appendix C schema wants it: the
// feedback element in the schema's namespace (with a prefix, because the
// schema's child elements are unqualified).
func MarshalReport(f *Feedback) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", " ")
	start := xml.StartElement{Name: xml.Name{Local: "dmarc:feedback"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns:dmarc"}, Value: Namespace}}}
	if err := enc.EncodeElement(f, start); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// MarshalJSON writes the integer as a JSON number.
func (n Int) MarshalJSON() ([]byte, error) { return n.MarshalText() }

// UnmarshalJSON reads a JSON number or string.
func (n *Int) UnmarshalJSON(b []byte) error {
	return n.UnmarshalText(bytes.Trim(b, `"`))
}

func (f *Feedback) periodStart() time.Time {
	return time.Unix(int64(f.Metadata.DateRange.Begin), 0).UTC()
}
