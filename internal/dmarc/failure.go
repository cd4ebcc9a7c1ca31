package dmarc

import (
	"fmt"
	"strings"
)

// FailureOptions is the parsed "fo" tag: which failures the domain owner
// wants failure reports (ruf) about (RFC 7489 6.3).
type FailureOptions struct {
	All  bool // "0": every mechanism failed to produce an aligned pass (the default)
	Any  bool // "1": some mechanism produced something other than an aligned pass
	DKIM bool // "d": a DKIM signature failed evaluation, aligned or not
	SPF  bool // "s": SPF failed evaluation, aligned or not
}

// ParseFailureOptions parses an fo value: a colon-separated list of 0, 1,
// d and s (RFC 7489 6.4: dmarc-fo = ( "0" / "1" / "d" / "s" ) *( ":" ... )).
// An empty value means the default, "0".
func ParseFailureOptions(s string) (FailureOptions, error) {
	var fo FailureOptions
	if strings.TrimSpace(s) == "" {
		fo.All = true
		return fo, nil
	}
	for _, o := range strings.Split(s, ":") {
		switch strings.ToLower(strings.TrimSpace(o)) {
		case "0":
			fo.All = true
		case "1":
			fo.Any = true
		case "d":
			fo.DKIM = true
		case "s":
			fo.SPF = true
		default:
			return FailureOptions{}, fmt.Errorf("fo=%q: %q is not 0, 1, d or s", s, o)
		}
	}
	return fo, nil
}

// String renders the options in the tag's syntax.
func (fo FailureOptions) String() string {
	var p []string
	for _, o := range []struct {
		on bool
		s  string
	}{{fo.All, "0"}, {fo.Any, "1"}, {fo.DKIM, "d"}, {fo.SPF, "s"}} {
		if o.on {
			p = append(p, o.s)
		}
	}
	return strings.Join(p, ":")
}

// FailureKind names why a failure report is due, as the Auth-Failure
// field of the report says it (RFC 6591 3.1, RFC 7489 7.3).
type FailureKind string

// The failure kinds postern reports.
const (
	FailureDMARC FailureKind = "dmarc"     // RFC 7489 7.3: DMARC evaluation failed
	FailureDKIM  FailureKind = "signature" // RFC 6591 3.1: a DKIM signature did not verify
	FailureSPF   FailureKind = "spf"       // RFC 6591 3.1: SPF failed
)

// FailureReportDue decides, from the record's fo tag, whether the domain
// owner asked for a failure report about this evaluation, and of what
// kind. Only pass and fail results are reported: with none, temperror
// or permerror there is no usable record to report to.
func (r Result) FailureReportDue(in Input) (FailureKind, bool) {
	if r.Record == nil || len(r.Record.RUF) == 0 {
		return "", false
	}
	if r.Value != ValueFail && r.Value != ValuePass {
		return "", false
	}
	fo, err := ParseFailureOptions(r.Record.FailureOptions)
	if err != nil {
		// RFC 7489 6.3: an invalid fo is ignored; ParseRecord already kept "0".
		fo = FailureOptions{All: true}
	}
	dkimFailed := false
	for _, d := range in.DKIM {
		// RFC 7489 6.3 fo=d: "the message had a signature that failed evaluation, regardless of its alignment".
		if strings.EqualFold(d.Result, "fail") || strings.EqualFold(d.Result, "permerror") {
			dkimFailed = true
		}
	}
	// RFC 7489 6.3 fo=s: "the message failed SPF evaluation, regardless of its alignment".
	spfFailed := strings.EqualFold(in.SPFResult, "fail")
	switch {
	case r.Value == ValueFail && (fo.All || fo.Any):
		// RFC 7489 6.3 fo=0: every mechanism failed to produce an aligned pass;
		// fo=1 asks for a superset of those reports.
		return FailureDMARC, true
	case fo.Any && !r.DKIMAligned && len(in.DKIM) > 0:
		// RFC 7489 6.3 fo=1: some mechanism produced something other than
		// an aligned pass, though DMARC passed through the other one.
		// A message without any signature has no DKIM failure to report.
		return FailureDKIM, true
	case fo.Any && !r.SPFAligned:
		return FailureSPF, true
	case fo.DKIM && dkimFailed:
		return FailureDKIM, true
	case fo.SPF && spfFailed:
		return FailureSPF, true
	}
	return "", false
}
