package config

import (
	"strings"
	"testing"
)

func TestTLSRPTGood(t *testing.T) {
	for _, tt := range []struct {
		name, conf string
		want       TLSRPT
	}{
		{"defaults", "", TLSRPT{Enabled: true, ReportFrom: "postmaster@mx.example.test",
			Submitter: "mx.example.test", ContactInfo: "postmaster@mx.example.test"}},
		{"postmaster in the submitter's domain", "postmaster = \"hostmaster@MX.example.test\"\n",
			TLSRPT{Enabled: true, ReportFrom: "hostmaster@mx.example.test", Submitter: "mx.example.test", ContactInfo: "hostmaster@mx.example.test"}},
		{"postmaster elsewhere", "postmaster = \"admin@example.test\"\n",
			TLSRPT{Enabled: true, ReportFrom: "postmaster@mx.example.test", Submitter: "mx.example.test", ContactInfo: "postmaster@mx.example.test"}},
		{"all set", "[tlsrpt]\nenabled = false\nsubmitter = \"Example.Test.\"\nreport_from = \"TLS@example.test\"\ncontact_info = \"ops@example.net\"\n",
			TLSRPT{Enabled: false, ReportFrom: "tls@example.test", Submitter: "example.test", ContactInfo: "ops@example.net"}},
		{"smarthost: off by default", "[delivery]\nsmarthost = \"relay.example.net\"\n",
			TLSRPT{Enabled: false, ReportFrom: "postmaster@mx.example.test", Submitter: "mx.example.test", ContactInfo: "postmaster@mx.example.test"}},
	} {
		c, warnings, err := Load(writeConfig(t, rateBase+tt.conf))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.TLSRPT != tt.want {
			t.Errorf("%s: [tlsrpt] %+v, want %+v", tt.name, c.TLSRPT, tt.want)
		}
		for _, w := range warnings {
			if strings.Contains(w.Msg, "tlsrpt") {
				t.Errorf("%s: unexpected warning %v", tt.name, w)
			}
		}
	}
}

func TestTLSRPTBad(t *testing.T) {
	tests := []struct {
		conf, want string
		line       int
	}{
		{"[tlsrpt]\nsubmitter = \"bad..name\"\n", "tlsrpt.submitter", 4},
		{"[tlsrpt]\nreport_from = \"nobody\"\n", `tlsrpt.report_from "nobody" is not an address`, 4},
		{"[tlsrpt]\nreport_from = \"tls@example.org\"\n", `not in the submitter's domain "mx.example.test"`, 4},
		{"[tlsrpt]\ncontact_info = \"a b@example.org\"\n", "tlsrpt.contact_info", 4},
		{"[tlsrpt]\nenabled = \"yes\"\n", "tlsrpt.enabled", 4},
	}
	for _, tt := range tests {
		_, _, err := Load(writeConfig(t, rateBase+tt.conf))
		if err == nil {
			t.Errorf("%q: no error", tt.conf)
			continue
		}
		e, ok := err.(*Error)
		if !ok || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, tt.want) || e.Problems[0].Line != tt.line {
			t.Errorf("%q: %v (want %q on line %d)", tt.conf, err, tt.want, tt.line)
		}
	}
}

// A smarthost carries the mail: enabled = true counts nothing, and says so.
func TestTLSRPTSmarthostWarns(t *testing.T) {
	_, warnings, err := Load(writeConfig(t, rateBase+"[delivery]\nsmarthost = \"relay.example.net\"\n[tlsrpt]\nenabled = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		if strings.Contains(w.Msg, "tlsrpt.enabled has no effect") {
			return
		}
	}
	t.Errorf("no warning for reports behind a smarthost: %v", warnings)
}
