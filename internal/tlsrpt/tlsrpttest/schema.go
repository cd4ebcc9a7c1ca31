// Package tlsrpttest is for tests only: it checks a TLS report (RFC
// 8460 4.4) against the RFC's JSON schema, written from the RFC's text
// and the example of its Appendix B, not from package tlsrpt's types, so
// that the unit tests and the integration tests judge the reports
// postern sends by the same rules.
package tlsrpttest

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"time"
)

// kind is a JSON type of RFC 8460 4.4.
type kind int

const (
	str      kind = iota // a string
	dateTime             // an RFC 3339 date-time
	count                // a non-negative integer
	strs                 // an array of strings
	ip                   // an IPv4 or IPv6 address
	uri                  // a URI
	object               // an object of the members listed
	objects              // an array of such objects
)

// field is one member of the report: its type, whether the RFC requires
// it, the values it may take (nil: any) and, for objects, its members.
type field struct {
	kind     kind
	required bool
	enum     []string
	members  map[string]field
}

// RFC 8460 4.3 and 4.4: the values of policy-type and result-type.
var (
	policyTypes = []string{"tlsa", "sts", "no-policy-found"}
	resultTypes = []string{
		"starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
		"validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required",
		"sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
	}
)

// schema is the report of RFC 8460 4.4.
var schema = map[string]field{
	"organization-name": {kind: str, required: true},
	"date-range": {kind: object, required: true, members: map[string]field{
		"start-datetime": {kind: dateTime, required: true},
		"end-datetime":   {kind: dateTime, required: true},
	}},
	"contact-info": {kind: str, required: true},
	"report-id":    {kind: str, required: true},
	"policies": {kind: objects, required: true, members: map[string]field{
		"policy": {kind: object, required: true, members: map[string]field{
			"policy-type":   {kind: str, required: true, enum: policyTypes},
			"policy-string": {kind: strs},
			"policy-domain": {kind: str, required: true},
			"mx-host":       {kind: strs},
		}},
		"summary": {kind: object, required: true, members: map[string]field{
			"total-successful-session-count": {kind: count, required: true},
			"total-failure-session-count":    {kind: count, required: true},
		}},
		"failure-details": {kind: objects, members: map[string]field{
			"result-type":            {kind: str, required: true, enum: resultTypes},
			"sending-mta-ip":         {kind: ip},
			"receiving-mx-hostname":  {kind: str},
			"receiving-mx-helo":      {kind: str},
			"receiving-ip":           {kind: ip},
			"failed-session-count":   {kind: count, required: true},
			"additional-information": {kind: uri},
			"failure-reason-code":    {kind: str},
		}},
	}},
}

// Check returns what makes doc not a report of RFC 8460 4.4, one line
// per problem, each with the path of the member ("report.policies[0]
// .summary: no \"total-failure-session-count\""); none: it is one.
func Check(doc []byte) []string {
	var v map[string]any
	if err := json.Unmarshal(doc, &v); err != nil {
		return []string{"report: " + err.Error()}
	}
	var c checker
	c.object("report", v, schema)
	return c.problems
}

type checker struct{ problems []string }

func (c *checker) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) object(path string, obj map[string]any, members map[string]field) {
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := obj[name]; !ok && members[name].required {
			c.errorf("%s: no %q", path, name)
		}
	}
	for name, v := range obj {
		f, ok := members[name]
		if !ok {
			c.errorf("%s: %q is not in RFC 8460 4.4", path, name)
			continue
		}
		c.value(path+"."+name, v, f)
	}
}

func (c *checker) value(path string, v any, f field) {
	switch f.kind {
	case str:
		s, ok := v.(string)
		if !ok {
			c.errorf("%s: %T, want a string", path, v)
		} else if f.enum != nil && !slices.Contains(f.enum, s) {
			c.errorf("%s: %q is not one of %v", path, s, f.enum)
		}
	case dateTime:
		s, _ := v.(string)
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			c.errorf("%s: %v is not an RFC 3339 date-time", path, v)
		}
	case count:
		n, ok := v.(float64)
		if !ok || n != float64(int64(n)) || n < 0 {
			c.errorf("%s: %v, want a count", path, v)
		}
	case strs:
		l, ok := v.([]any)
		for _, s := range l {
			if _, isStr := s.(string); !isStr {
				ok = false
			}
		}
		if !ok {
			c.errorf("%s: %v, want an array of strings", path, v)
		}
	case ip:
		s, _ := v.(string)
		if _, err := netip.ParseAddr(s); err != nil {
			c.errorf("%s: %v is not an IP address", path, v)
		}
	case uri:
		s, _ := v.(string)
		if u, err := url.Parse(s); err != nil || u.Scheme == "" {
			c.errorf("%s: %v is not a URI", path, v)
		}
	case object:
		m, ok := v.(map[string]any)
		if !ok {
			c.errorf("%s: %T, want an object", path, v)
			return
		}
		c.object(path, m, f.members)
	case objects:
		l, ok := v.([]any)
		if !ok {
			c.errorf("%s: %T, want an array", path, v)
			return
		}
		for i, e := range l {
			c.value(fmt.Sprintf("%s[%d]", path, i), e, field{kind: object, members: f.members})
		}
	}
}
