// Package dmarc evaluates DMARC (RFC 7489) for a received message: it finds
// the sender domain's policy in DNS, checks SPF and DKIM alignment against
// the RFC5322.From domain and decides the disposition. It takes plain
// inputs (domains and result strings) so that it does not depend on how
// SPF and DKIM were checked.
package dmarc

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// Policy is a DMARC policy or disposition: none, quarantine or reject.
type Policy string

// The policies of RFC 7489 6.3 ("p" and "sp").
const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// Alignment is an identifier alignment mode, relaxed ("r") or strict ("s").
type Alignment string

// The alignment modes of RFC 7489 3.1.
const (
	AlignRelaxed Alignment = "r"
	AlignStrict  Alignment = "s"
)

// ReportURI is one entry of a rua or ruf list: the URI and the optional
// size limit (RFC 7489 6.2: "!10m" means 10 MiB); MaxSize 0 means no limit.
type ReportURI struct {
	URI     string
	MaxSize int64
}

// Address returns the mailbox of a mailto: URI, or "" for other schemes or
// a mailbox that does not parse.
func (u ReportURI) Address() string {
	pu, err := url.Parse(u.URI)
	if err != nil || !strings.EqualFold(pu.Scheme, "mailto") {
		return ""
	}
	a, err := mail.ParseAddress(pu.Opaque)
	if err != nil {
		return ""
	}
	return a.Address
}

// Record is a parsed DMARC policy record (RFC 7489 6.3).
type Record struct {
	Raw             string      // the TXT string as published
	Policy          Policy      // p; "" when missing or invalid
	SubdomainPolicy Policy      // sp; "" when absent (p applies)
	DKIMAlignment   Alignment   // adkim, default relaxed
	SPFAlignment    Alignment   // aspf, default relaxed
	Percent         int         // pct, default 100
	RUA             []ReportURI // aggregate report destinations
	RUF             []ReportURI // failure report destinations
	FailureOptions  string      // fo, default "0"
	ReportFormat    string      // rf, default "afrf"
	ReportInterval  int         // ri in seconds, default 86400
	Warnings        []string    // tags ignored because of syntax errors
}

// Errors from ParseRecord.
var (
	// ErrNotDMARC: the TXT string is not a DMARC record (it does not start
	// with v=DMARC1) and must be ignored.
	ErrNotDMARC = errors.New("not a DMARC record")
	// ErrInvalidPolicy: the record lacks a valid p tag or has an invalid
	// sp tag; the record is returned with its other tags.
	ErrInvalidPolicy = errors.New("DMARC record without a valid policy")
)

// MalformedError is ParseRecord's error for a TXT string that starts with
// v=DMARC1 but is not a tag-list. It is an ErrNotDMARC: receivers ignore
// the record (RFC 7489 6.6.3), which its owner will want to know.
type MalformedError struct {
	Detail string // what is wrong, e.g. "\"junk\" is not tag=value"
}

func (e *MalformedError) Error() string { return ErrNotDMARC.Error() + ": " + e.Detail }

// Unwrap makes a MalformedError an ErrNotDMARC.
func (e *MalformedError) Unwrap() error { return ErrNotDMARC }

// ParseRecord parses a DMARC TXT record. It returns ErrNotDMARC for TXT
// strings that are not DMARC records (a *MalformedError when one starts
// with v=DMARC1) and ErrInvalidPolicy (wrapped, with the record) when p
// is missing or invalid or sp is invalid. Syntax errors in other tags are
// tolerated and listed in Warnings.
func ParseRecord(s string) (*Record, error) {
	tags, err := splitTags(s)
	// RFC 7489 6.3: v MUST be the first tag and MUST match "DMARC1" precisely.
	isDMARC := len(tags) > 0 && tags[0].k == "v" && tags[0].v == "DMARC1"
	if err != nil && isDMARC {
		return nil, &MalformedError{Detail: err.Error()}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotDMARC, err)
	}
	if !isDMARC {
		return nil, ErrNotDMARC
	}
	r := &Record{Raw: s, DKIMAlignment: AlignRelaxed, SPFAlignment: AlignRelaxed,
		Percent: 100, FailureOptions: "0", ReportFormat: "afrf", ReportInterval: 86400}
	seen := map[string]bool{"v": true}
	var policyErr error
	for _, t := range tags[1:] {
		if seen[t.k] {
			r.warn("tag %s repeated; later value ignored", t.k)
			continue
		}
		seen[t.k] = true
		rule, ok := tagRules[t.k]
		if !ok {
			// RFC 7489 6.3: unknown tags MUST be ignored.
			continue
		}
		if err := rule(r, t); err != nil {
			policyErr = err
		}
	}
	if policyErr == nil && r.Policy == "" {
		policyErr = fmt.Errorf("%w: no p tag", ErrInvalidPolicy)
	}
	if policyErr != nil {
		return r, policyErr
	}
	return r, nil
}

// tagRule applies one tag to the record. RFC 7489 6.3: a value with a
// syntax error is discarded for the default, with a warning in
// r.Warnings; for p and sp it is an error wrapping ErrInvalidPolicy.
type tagRule func(r *Record, t tag) error

// warn adds a warning about a tag ignored because of a syntax error.
func (r *Record) warn(format string, a ...any) {
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, a...))
}

// tagRules are the tags of RFC 7489 6.3.
var tagRules = map[string]tagRule{
	"p":     policyRule(func(r *Record) *Policy { return &r.Policy }),
	"sp":    policyRule(func(r *Record) *Policy { return &r.SubdomainPolicy }),
	"adkim": alignRule(func(r *Record) *Alignment { return &r.DKIMAlignment }),
	"aspf":  alignRule(func(r *Record) *Alignment { return &r.SPFAlignment }),
	"pct":   pctRule,
	"rua":   uriRule(func(r *Record) *[]ReportURI { return &r.RUA }),
	"ruf":   uriRule(func(r *Record) *[]ReportURI { return &r.RUF }),
	"fo":    foRule,
	"rf":    rfRule,
	"ri":    riRule,
}

// policyRule reads p or sp. RFC 7489 6.6.3: an invalid p, or an invalid
// sp, makes the record unusable as published.
func policyRule(field func(*Record) *Policy) tagRule {
	return func(r *Record, t tag) error {
		p, ok := parsePolicy(t.v)
		if !ok {
			return fmt.Errorf("%w: %s=%q", ErrInvalidPolicy, t.k, t.v)
		}
		*field(r) = p
		return nil
	}
}

// alignRule reads adkim or aspf (RFC 7489 3.1): r or s.
func alignRule(field func(*Record) *Alignment) tagRule {
	return func(r *Record, t tag) error {
		a := Alignment(strings.ToLower(t.v))
		if a != AlignRelaxed && a != AlignStrict {
			r.warn("%s=%q is not r or s; relaxed used", t.k, t.v)
			return nil
		}
		*field(r) = a
		return nil
	}
}

// pctRule reads pct: RFC 7489 6.3, an integer from 0 to 100.
func pctRule(r *Record, t tag) error {
	n, err := strconv.Atoi(t.v)
	if err != nil || n < 0 || n > 100 {
		r.warn("pct=%q is not 0-100; 100 used", t.v)
		return nil
	}
	r.Percent = n
	return nil
}

// uriRule reads rua or ruf, keeping the URIs that parse.
func uriRule(field func(*Record) *[]ReportURI) tagRule {
	return func(r *Record, t tag) error {
		uris, bad := parseURIs(t.v)
		for _, b := range bad {
			r.warn("%s: %s", t.k, b)
		}
		*field(r) = uris
		return nil
	}
}

// foRule reads fo: RFC 7489 6.3, a colon-separated list of 0, 1, d, s.
func foRule(r *Record, t tag) error {
	if !validFO(t.v) {
		r.warn("fo=%q invalid; 0 used", t.v)
		return nil
	}
	r.FailureOptions = t.v
	return nil
}

// rfRule reads rf, the failure report format (RFC 7489 6.3).
func rfRule(r *Record, t tag) error {
	r.ReportFormat = t.v
	return nil
}

// riRule reads ri: RFC 7489 6.3, a 32-bit unsigned count of seconds.
func riRule(r *Record, t tag) error {
	n, err := strconv.ParseUint(t.v, 10, 31)
	if err != nil || n == 0 {
		r.warn("ri=%q invalid; 86400 used", t.v)
		return nil
	}
	r.ReportInterval = int(n)
	return nil
}

// String renders the record in canonical tag order (for printing what to
// publish).
func (r *Record) String() string {
	parts := []string{"v=DMARC1", "p=" + string(r.Policy)}
	if r.SubdomainPolicy != "" {
		parts = append(parts, "sp="+string(r.SubdomainPolicy))
	}
	if r.DKIMAlignment == AlignStrict {
		parts = append(parts, "adkim=s")
	}
	if r.SPFAlignment == AlignStrict {
		parts = append(parts, "aspf=s")
	}
	if r.Percent != 100 {
		parts = append(parts, "pct="+strconv.Itoa(r.Percent))
	}
	if len(r.RUA) > 0 {
		parts = append(parts, "rua="+formatURIs(r.RUA))
	}
	if len(r.RUF) > 0 {
		parts = append(parts, "ruf="+formatURIs(r.RUF))
	}
	if r.FailureOptions != "" && r.FailureOptions != "0" {
		parts = append(parts, "fo="+r.FailureOptions)
	}
	return strings.Join(parts, "; ")
}

func formatURIs(us []ReportURI) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = u.URI
		if u.MaxSize > 0 {
			s[i] += "!" + formatSize(u.MaxSize)
		}
	}
	return strings.Join(s, ",")
}

func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

type tag struct{ k, v string }

// splitTags splits a tag-value list (RFC 7489 6.4, after RFC 6376 3.2).
// On error the tags before the bad one are returned too.
func splitTags(s string) ([]tag, error) {
	var tags []tag
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return tags, fmt.Errorf("%q is not tag=value", part)
		}
		k = strings.TrimSpace(k)
		if k == "" {
			return tags, errors.New("empty tag name")
		}
		// Tag names are case-sensitive in RFC 6376 3.2 but receivers
		// commonly fold them; v is checked exactly by the caller.
		if k != "v" {
			k = strings.ToLower(k)
		}
		tags = append(tags, tag{k, strings.TrimSpace(v)})
	}
	return tags, nil
}

func parsePolicy(s string) (Policy, bool) {
	switch p := Policy(strings.ToLower(s)); p {
	case PolicyNone, PolicyQuarantine, PolicyReject:
		return p, true
	}
	return "", false
}

func validFO(s string) bool {
	for _, o := range strings.Split(s, ":") {
		switch strings.TrimSpace(o) {
		case "0", "1", "d", "s":
		default:
			return false
		}
	}
	return true
}

// parseURIs parses a dmarc-uri list (RFC 7489 6.4): comma-separated URIs,
// each with an optional "!" size limit. Entries that do not parse are
// returned as problems and left out.
func parseURIs(s string) (uris []ReportURI, bad []string) {
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		u, err := ParseReportURI(item)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		uris = append(uris, u)
	}
	return uris, bad
}

// ParseReportURI parses one dmarc-uri: "mailto:a@example.org!10m".
func ParseReportURI(s string) (ReportURI, error) {
	uri, size, hasSize := strings.Cut(s, "!")
	var u ReportURI
	pu, err := url.Parse(uri)
	if err != nil || pu.Scheme == "" {
		return u, fmt.Errorf("report URI %q is not a URI", s)
	}
	u.URI = uri
	if hasSize {
		// RFC 7489 6.4: size = 1*DIGIT [ "k" / "m" / "g" / "t" ], units are powers of 2.
		n, err := parseSize(size)
		if err != nil {
			return ReportURI{}, fmt.Errorf("report URI %q: %v", s, err)
		}
		u.MaxSize = n
	}
	if strings.EqualFold(pu.Scheme, "mailto") && u.Address() == "" {
		return ReportURI{}, fmt.Errorf("report URI %q: not a valid mailbox", s)
	}
	return u, nil
}

func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty size limit")
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	case 't', 'T':
		mult = 1 << 40
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size limit %q is not a number", s)
	}
	return n * mult, nil
}
