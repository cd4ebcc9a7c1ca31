package dmarc

import (
	"strings"
	"testing"
)

func TestParseFailureOptions(t *testing.T) {
	for _, c := range []struct {
		in   string
		want FailureOptions
		err  bool
	}{
		{"", FailureOptions{All: true}, false},
		{"0", FailureOptions{All: true}, false},
		{"1", FailureOptions{Any: true}, false},
		{"d", FailureOptions{DKIM: true}, false},
		{"s", FailureOptions{SPF: true}, false},
		{"1:d:s", FailureOptions{Any: true, DKIM: true, SPF: true}, false},
		{" d : S ", FailureOptions{DKIM: true, SPF: true}, false},
		{"0:1", FailureOptions{All: true, Any: true}, false},
		{"2", FailureOptions{}, true},
		{"d,s", FailureOptions{}, true},
		{"1::d", FailureOptions{}, true},
		{"x", FailureOptions{}, true},
	} {
		got, err := ParseFailureOptions(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseFailureOptions(%q) = %+v, %v; want %+v, error %v", c.in, got, err, c.want, c.err)
		}
		if err == nil {
			again, err := ParseFailureOptions(got.String())
			if err != nil || again != got {
				t.Errorf("%q: String %q does not parse back: %+v %v", c.in, got.String(), again, err)
			}
		}
	}
}

// TestFailureReportDue is the fo= decision table of RFC 7489 6.3.
func TestFailureReportDue(t *testing.T) {
	rec := func(fo string, ruf bool) *Record {
		r := &Record{Policy: PolicyReject, FailureOptions: fo}
		if ruf {
			r.RUF = []ReportURI{{URI: "mailto:ruf@example.com"}}
		}
		return r
	}
	badSig := []DKIMResult{{Domain: "example.com", Selector: "s", Result: "fail"}}
	goodSig := []DKIMResult{{Domain: "example.com", Selector: "s", Result: "pass"}}
	for _, c := range []struct {
		name string
		res  Result
		in   Input
		want FailureKind // "" means no report
	}{
		{"fo=0 fail", Result{Value: ValueFail, Record: rec("0", true)}, Input{SPFResult: "fail"}, FailureDMARC},
		{"fo default fail", Result{Value: ValueFail, Record: rec("", true)}, Input{SPFResult: "none"}, FailureDMARC},
		{"fo=0 pass", Result{Value: ValuePass, SPFAligned: true, Record: rec("0", true)}, Input{SPFResult: "pass", DKIM: badSig}, ""},
		{"no ruf", Result{Value: ValueFail, Record: rec("0", false)}, Input{SPFResult: "fail"}, ""},
		{"no record", Result{Value: ValueFail}, Input{SPFResult: "fail"}, ""},
		{"temperror", Result{Value: ValueTempError, Record: rec("1", true)}, Input{SPFResult: "fail"}, ""},
		{"permerror", Result{Value: ValuePermError, Record: rec("1", true)}, Input{SPFResult: "fail"}, ""},
		{"none", Result{Value: ValueNone, Record: rec("1", true)}, Input{SPFResult: "fail"}, ""},
		{"fo=1 fail", Result{Value: ValueFail, Record: rec("1", true)}, Input{SPFResult: "pass"}, FailureDMARC},
		{"fo=1 pass by spf, dkim broken", Result{Value: ValuePass, SPFAligned: true, Record: rec("1", true)}, Input{SPFResult: "pass", DKIM: badSig}, FailureDKIM},
		{"fo=1 pass by spf, no signature", Result{Value: ValuePass, SPFAligned: true, Record: rec("1", true)}, Input{SPFResult: "pass"}, ""},
		{"fo=1 pass by dkim, spf unaligned", Result{Value: ValuePass, DKIMAligned: true, Record: rec("1", true)}, Input{SPFResult: "pass", DKIM: goodSig}, FailureSPF},
		{"fo=1 both aligned", Result{Value: ValuePass, DKIMAligned: true, SPFAligned: true, Record: rec("1", true)}, Input{SPFResult: "pass", DKIM: goodSig}, ""},
		{"fo=d fail, signature failed", Result{Value: ValueFail, Record: rec("d", true)}, Input{SPFResult: "fail", DKIM: badSig}, FailureDKIM},
		{"fo=d fail, no signature", Result{Value: ValueFail, Record: rec("d", true)}, Input{SPFResult: "fail"}, ""},
		{"fo=d pass, signature failed", Result{Value: ValuePass, SPFAligned: true, Record: rec("d", true)}, Input{SPFResult: "pass", DKIM: badSig}, FailureDKIM},
		{"fo=s fail, spf failed", Result{Value: ValueFail, Record: rec("s", true)}, Input{SPFResult: "fail"}, FailureSPF},
		{"fo=s fail, spf softfail", Result{Value: ValueFail, Record: rec("s", true)}, Input{SPFResult: "softfail"}, ""},
		{"fo=s pass by dkim, spf failed", Result{Value: ValuePass, DKIMAligned: true, Record: rec("s", true)}, Input{SPFResult: "fail", DKIM: goodSig}, FailureSPF},
		{"fo=d:s fail, dkim first", Result{Value: ValueFail, Record: rec("d:s", true)}, Input{SPFResult: "fail", DKIM: badSig}, FailureDKIM},
		{"fo invalid acts as 0", Result{Value: ValueFail, Record: rec("x", true)}, Input{SPFResult: "none"}, FailureDMARC},
	} {
		got, ok := c.res.FailureReportDue(c.in)
		if ok != (c.want != "") || got != c.want {
			t.Errorf("%s: got %q %v, want %q", c.name, got, ok, c.want)
		}
	}
}

func FuzzParseFailureOptions(f *testing.F) {
	for _, s := range []string{"0", "1", "d", "s", "0:1:d:s", "", ":", "1:x", " d : s "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fo, err := ParseFailureOptions(s)
		if err != nil {
			if fo != (FailureOptions{}) {
				t.Fatalf("%q: options %+v returned with error", s, fo)
			}
			return
		}
		if fo == (FailureOptions{}) {
			t.Fatalf("%q parsed to no option", s)
		}
		again, err := ParseFailureOptions(fo.String())
		if err != nil || again != fo {
			t.Fatalf("%q: %q does not round-trip: %+v %v", s, fo.String(), again, err)
		}
		// The record parser and this parser agree on what is valid.
		r, _ := ParseRecord("v=DMARC1; p=none; fo=" + s)
		if r != nil && !strings.ContainsAny(s, ";") && r.FailureOptions != "0" && r.FailureOptions != strings.TrimSpace(s) {
			t.Fatalf("%q: record kept fo=%q", s, r.FailureOptions)
		}
	})
}
