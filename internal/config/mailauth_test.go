package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const mailauthBase = "hostname = \"mx.example.test\"\nuser = \"nobody\"\n[[listener]]\naddress = \"127.0.0.1:25\"\nmode = \"mta\"\n"

func TestMailauthDefaults(t *testing.T) {
	c, _, err := Load(writeConfig(t, mailauthBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.SPF.RejectFail || !c.SPF.Check || !c.DKIM.Verify || !c.DKIM.Sign || c.DKIM.ActivateAfter != 72*time.Hour || c.DKIM.MaxSignatures != 5 {
		t.Errorf("spf/dkim defaults: %+v %+v", c.SPF, c.DKIM)
	}
	want := DMARC{Check: true, Enforce: true, Quarantine: "junk", ReportFrom: "dmarc-reports@mx.example.test", ReportInterval: 24 * time.Hour,
		FailureReportInterval: time.Hour, FailureReportsPerHour: 100}
	if !reflect.DeepEqual(c.DMARC, want) {
		t.Errorf("dmarc defaults: %+v, want %+v", c.DMARC, want)
	}
	if d := Default(); !d.DKIM.Sign || !d.DMARC.Enforce {
		t.Errorf("embedded default: %+v %+v", d.DKIM, d.DMARC)
	}
}

func TestMailauthSettings(t *testing.T) {
	text := mailauthBase + `
[spf]
reject_fail = true
[dkim]
sign = false
activate_after = "48h"
max_signatures = 3
dns_check_interval = "2m"
[dmarc]
enforce = false
quarantine = "hold"
trusted_forwarders = ["192.0.2.0/24", "2001:db8::1", ".Lists.Example.NET", "fwd.example.org"]
report_from = "Reports@MX.Example.Test"
report_interval = "6h"
report_inbox = "dmarc@example.test"
failure_reports = true
failure_report_interval = "30m"
failure_reports_per_hour = 20
`
	c, warns, err := Load(writeConfig(t, text))
	if err != nil || len(warns) != 0 {
		t.Fatalf("%v %v", err, warns)
	}
	if !c.SPF.RejectFail || c.DKIM.Sign || c.DKIM.ActivateAfter != 48*time.Hour || c.DKIM.MaxSignatures != 3 || c.DKIM.DNSCheckInterval != 2*time.Minute {
		t.Errorf("spf/dkim: %+v %+v", c.SPF, c.DKIM)
	}
	want := DMARC{Check: true, Enforce: false, Quarantine: "hold", ReportFrom: "reports@mx.example.test", ReportInterval: 6 * time.Hour,
		ReportInbox:    "dmarc@example.test",
		FailureReports: true, FailureReportInterval: 30 * time.Minute, FailureReportsPerHour: 20,
		TrustedForwarders: []string{"192.0.2.0/24", "2001:db8::1", ".lists.example.net", "fwd.example.org"}}
	if !reflect.DeepEqual(c.DMARC, want) {
		t.Errorf("dmarc: %+v\nwant %+v", c.DMARC, want)
	}
}

func TestMailauthProblems(t *testing.T) {
	tests := []struct{ text, want string }{
		{"[dmarc]\nquarantine = \"spam\"\n", `:7: dmarc.quarantine "spam" is not "junk" or "hold"`},
		{"[dmarc]\nreport_interval = \"30s\"\n", ":7: dmarc.report_interval 30s is below one minute"},
		{"[dmarc]\nreport_from = \"nobody\"\n", `:7: dmarc.report_from "nobody" is not an address`},
		{"[dmarc]\nreport_inbox = \"a@b..c\"\n", ":7: dmarc.report_inbox:"},
		{"[dmarc]\ntrusted_forwarders = [\"10.0.0.0/33\"]\n", `dmarc.trusted_forwarders: "10.0.0.0/33" is not an address`},
		{"[dmarc]\nfailure_report_interval = \"10s\"\n", ":7: dmarc.failure_report_interval 10s is below one minute"},
		{"[dmarc]\nfailure_reports_per_hour = 0\n", ":7: dmarc.failure_reports_per_hour 0 is not between 1 and 10000"},
		{"[dmarc]\nfailure_reports_per_hour = 20000\n", ":7: dmarc.failure_reports_per_hour 20000 is not between 1 and 10000"},
		{"[dmarc]\nfailure_reports = 1\n", ":7: dmarc.failure_reports must be true or false"},
		{"[dkim]\nmax_signatures = 0\n", ":7: dkim.max_signatures must be at least 1"},
		{"[dkim]\nmax_signatures = 500\n", ":7: dkim.max_signatures 500 is more than 50"},
		{"[dkim]\ndns_check_interval = \"0s\"\n", `:7: dkim.dns_check_interval: "0s" is not a positive duration`},
		{"[spf]\nreject_fail = \"yes\"\n", ":7: spf.reject_fail must be true or false"},
		{"[dkim]\nsgin = true\n", "unknown key dkim.sgin (did you mean sign?)"},
	}
	for _, tc := range tests {
		_, _, err := Load(writeConfig(t, mailauthBase+tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
	_, warns, err := Load(writeConfig(t, mailauthBase+"[spf]\ncheck = false\nreject_fail = true\n"))
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0].String(), "spf.reject_fail has no effect") {
		t.Errorf("reject_fail without check: %v %v", err, warns)
	}
	_, warns, err = Load(writeConfig(t, mailauthBase+"[spf]\ncheck = false\n[dkim]\nverify = false\n"))
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0].String(), "every message with a DMARC policy fails it") {
		t.Errorf("dmarc without spf and dkim: %v %v", err, warns)
	}
	_, warns, err = Load(writeConfig(t, mailauthBase+"[dkim]\nactivate_after = \"1m\"\n"))
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0].String(), "dkim.activate_after 1m0s is short") {
		t.Errorf("short activate_after: %v %v", err, warns)
	}
	c, warns, err := Load(writeConfig(t, mailauthBase+"[dmarc]\nreport_interval = \"1m\"\n"))
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0].String(), "dmarc.report_interval 1m0s is below one hour: periods this short are meant for test and lab set-ups") {
		t.Errorf("report_interval of a minute: %v %v", err, warns)
	} else if c.DMARC.ReportInterval != time.Minute {
		t.Errorf("report_interval of a minute read as %s", c.DMARC.ReportInterval)
	}
}
