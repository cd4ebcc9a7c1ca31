package config

import (
	"path/filepath"
	"strings"
)

// TLSRPT is the [tlsrpt] table: the daily TLS reports (RFC 8460) about
// the mail postern sends, for the recipient domains that ask for them.
type TLSRPT struct {
	// Enabled counts TLS successes and failures with each recipient
	// domain's servers and sends the reports; default true unless mail
	// goes out through delivery.smarthost.
	Enabled bool `toml:"enabled"`
	// ReportFrom is the sender of mailed reports, in the submitter's
	// domain (RFC 8460 5.3); default the postmaster address, or
	// postmaster@ the submitter when that is in another domain.
	ReportFrom string `toml:"report_from"`
	// Submitter is the domain named as the reports' sender; default
	// hostname.
	Submitter string `toml:"submitter"`
	// ContactInfo is the address in the reports for questions about
	// them; default report_from.
	ContactInfo string `toml:"contact_info"`
}

// TLSRPTDir holds the day's TLS report counts and the record of the
// reports sent.
func (c *Config) TLSRPTDir() string { return filepath.Join(c.DataDir, "tlsrpt") }

// tlsrpt validates [tlsrpt]; it runs after postmaster and
// [delivery].
func (d *decoder) tlsrpt(c *Config) {
	t := &c.TLSRPT
	smarthost := c.Delivery.Smarthost != ""
	if !d.defined["tlsrpt.enabled"] {
		t.Enabled = !smarthost
	} else if t.Enabled && smarthost {
		d.warnf("tlsrpt.enabled", "tlsrpt.enabled has no effect: mail goes out through delivery.smarthost, not to the recipient domains' servers")
	}
	if t.Submitter == "" {
		t.Submitter = c.Hostname
	} else if n, err := NormalizeDomain(t.Submitter); err != nil {
		d.errorf("tlsrpt.submitter", "tlsrpt.submitter: %v", err)
	} else {
		t.Submitter = n
	}
	if t.ReportFrom == "" {
		t.ReportFrom = c.Postmaster
		if !strings.HasSuffix(c.Postmaster, "@"+t.Submitter) {
			t.ReportFrom = "postmaster@" + t.Submitter
		}
	} else if a, ok := d.address("tlsrpt.report_from", t.ReportFrom); ok {
		t.ReportFrom = a
		// RFC 8460 5.3: TLS-Report-Submitter must match the From domain.
		if !strings.HasSuffix(a, "@"+t.Submitter) {
			d.errorf("tlsrpt.report_from", "tlsrpt.report_from %q is not in the submitter's domain %q (RFC 8460 5.3); set tlsrpt.submitter to its domain", a, t.Submitter)
		}
	}
	if t.ContactInfo == "" {
		t.ContactInfo = t.ReportFrom
	} else if a, ok := d.address("tlsrpt.contact_info", t.ContactInfo); ok {
		t.ContactInfo = a
	}
}
