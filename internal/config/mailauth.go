package config

import (
	"net/netip"
	"path/filepath"
	"strings"
	"time"
)

// SPF is the [spf] table.
type SPF struct {
	// Check runs SPF on mail from other domains' servers; false when
	// another filter does it.
	Check bool `toml:"check"`
	// RejectFail refuses mail whose SPF result is fail (550 5.7.23 at
	// RCPT); false leaves the decision to DMARC.
	RejectFail bool `toml:"reject_fail"`
}

// DKIM is the [dkim] table.
type DKIM struct {
	Verify        bool          `toml:"verify"`         // verify signatures of mail from other domains' servers
	Sign          bool          `toml:"sign"`           // sign mail of authenticated and trusted clients
	ActivateAfter time.Duration `toml:"activate_after"` // from keygen to the first signature
	MaxSignatures int           `toml:"max_signatures"` // signatures verified per incoming message
	// DNSCheckInterval is how often the server looks up the DNS record
	// of a new selector waiting to take over from an older one.
	DNSCheckInterval time.Duration `toml:"dns_check_interval"`
}

// DMARC is the [dmarc] table.
type DMARC struct {
	Check             bool          `toml:"check"`              // evaluate DMARC on mail from other domains' servers
	Enforce           bool          `toml:"enforce"`            // act on p=reject and p=quarantine
	Quarantine        string        `toml:"quarantine"`         // "junk" or "hold"
	TrustedForwarders []string      `toml:"trusted_forwarders"` // addresses, networks or host names
	ReportFrom        string        `toml:"report_from"`        // sender of aggregate reports
	ReportInterval    time.Duration `toml:"report_interval"`    // period of one aggregate report
	ReportInbox       string        `toml:"report_inbox"`       // where reports about our domains arrive; "" for none
	// FailureReports sends failure reports (RFC 7489 7.3) to the ruf
	// addresses of domains that ask for them; off by default.
	FailureReports        bool          `toml:"failure_reports"`
	FailureReportInterval time.Duration `toml:"failure_report_interval"`  // least time between reports per domain and client address
	FailureReportsPerHour int           `toml:"failure_reports_per_hour"` // cap on all failure reports in an hour
}

// Defaults of the mail authentication tables.
const (
	DefaultDKIMActivateAfter = 72 * time.Hour
	DefaultDKIMMaxSignatures = 5
	DefaultDKIMDNSCheck      = 5 * time.Minute
	DefaultReportInterval    = 24 * time.Hour
	// MinReportInterval is the shortest report_interval, for test and
	// lab set-ups that must see a period end.
	MinReportInterval = time.Minute
	// DefaultFailureReportInterval and DefaultFailureReportsPerHour
	// bound the failure reports a stream of forged mail can make us send.
	DefaultFailureReportInterval = time.Hour
	DefaultFailureReportsPerHour = 100
	// maxDKIMSignatures bounds the work one message can cause.
	maxDKIMSignatures = 50
)

func defaultDKIM() DKIM {
	return DKIM{Verify: true, Sign: true, ActivateAfter: DefaultDKIMActivateAfter, MaxSignatures: DefaultDKIMMaxSignatures,
		DNSCheckInterval: DefaultDKIMDNSCheck}
}

func defaultDMARC() DMARC {
	return DMARC{Check: true, Enforce: true, Quarantine: "junk", ReportInterval: DefaultReportInterval,
		FailureReportInterval: DefaultFailureReportInterval, FailureReportsPerHour: DefaultFailureReportsPerHour}
}

// DKIMDir is where DKIM signing keys live: DKIMDir/DOMAIN/SELECTOR.key.
func (c *Config) DKIMDir() string { return filepath.Join(c.DataDir, "dkim") }

// DMARCDir holds the DMARC evaluations kept for aggregate reports, and
// received/ the reports other receivers sent.
func (c *Config) DMARCDir() string { return filepath.Join(c.DataDir, "dmarc") }

func defaultSPF() SPF { return SPF{Check: true} }

// mailauth validates [spf], [dkim] and [dmarc].
func (d *decoder) mailauth(c *Config) {
	if c.SPF.RejectFail && !c.SPF.Check {
		d.warnf("spf.reject_fail", "spf.reject_fail has no effect with spf.check = false")
	}
	if c.DMARC.Check && !c.SPF.Check && !c.DKIM.Verify {
		d.warnf("dmarc.check", "dmarc.check is on but spf.check and dkim.verify are off: every message with a DMARC policy fails it")
	}
	if c.DKIM.MaxSignatures == 0 {
		if d.defined["dkim.max_signatures"] {
			d.errorf("dkim.max_signatures", "dkim.max_signatures must be at least 1")
		}
		c.DKIM.MaxSignatures = DefaultDKIMMaxSignatures
	} else if c.DKIM.MaxSignatures > maxDKIMSignatures {
		d.errorf("dkim.max_signatures", "dkim.max_signatures %d is more than %d; each signature costs a DNS lookup and a signature check", c.DKIM.MaxSignatures, maxDKIMSignatures)
	}
	if c.DKIM.ActivateAfter == 0 {
		c.DKIM.ActivateAfter = DefaultDKIMActivateAfter
	} else if c.DKIM.ActivateAfter < time.Hour && d.defined["dkim.activate_after"] {
		d.warnf("dkim.activate_after", "dkim.activate_after %s is short: receivers whose DNS caches still lack a new selector's record will fail its signatures", c.DKIM.ActivateAfter)
	}
	if c.DKIM.DNSCheckInterval == 0 {
		c.DKIM.DNSCheckInterval = DefaultDKIMDNSCheck
	}

	m := &c.DMARC
	switch m.Quarantine {
	case "":
		m.Quarantine = "junk"
	case "junk", "hold":
	default:
		d.errorf("dmarc.quarantine", "dmarc.quarantine %q is not \"junk\" or \"hold\"", m.Quarantine)
	}
	d.reportInterval(m)
	if m.FailureReportInterval == 0 {
		m.FailureReportInterval = DefaultFailureReportInterval
	} else if m.FailureReportInterval < time.Minute {
		d.errorf("dmarc.failure_report_interval", "dmarc.failure_report_interval %s is below one minute", m.FailureReportInterval)
	}
	if m.FailureReportsPerHour == 0 && !d.defined["dmarc.failure_reports_per_hour"] {
		m.FailureReportsPerHour = DefaultFailureReportsPerHour
	} else if m.FailureReportsPerHour < 1 || m.FailureReportsPerHour > 10000 {
		d.errorf("dmarc.failure_reports_per_hour", "dmarc.failure_reports_per_hour %d is not between 1 and 10000 (turn reports off with failure_reports = false)", m.FailureReportsPerHour)
	}
	if m.ReportFrom == "" {
		m.ReportFrom = "dmarc-reports@" + c.Hostname
	} else if a, ok := d.address("dmarc.report_from", m.ReportFrom); ok {
		m.ReportFrom = a
	}
	if m.ReportInbox != "" {
		if a, ok := d.address("dmarc.report_inbox", m.ReportInbox); ok {
			m.ReportInbox = a
		}
	}
	for i, e := range m.TrustedForwarders {
		p := indexPath("dmarc.trusted_forwarders", i)
		e = strings.TrimSpace(e)
		if _, err := netip.ParsePrefix(e); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(e); err == nil {
			continue
		}
		if n, err := NormalizeDomain(strings.TrimPrefix(e, ".")); err == nil {
			if strings.HasPrefix(e, ".") {
				n = "." + n
			}
			m.TrustedForwarders[i] = n
			continue
		}
		d.errorf(p, "dmarc.trusted_forwarders: %q is not an address, a network or a host name", e)
	}
}

// reportInterval checks dmarc.report_interval.
func (d *decoder) reportInterval(m *DMARC) {
	if m.ReportInterval == 0 {
		m.ReportInterval = DefaultReportInterval
	} else if m.ReportInterval < MinReportInterval {
		d.errorf("dmarc.report_interval", "dmarc.report_interval %s is below one minute", m.ReportInterval)
	} else if m.ReportInterval < time.Hour {
		// RFC 7489 7.2: receivers send reports for at least an hour
		// ("ri" below 1h is not honoured); shorter periods let a test
		// see one end.
		d.warnf("dmarc.report_interval", "dmarc.report_interval %s is below one hour: periods this short are meant for test and lab set-ups; receivers usually expect daily reports (\"24h\", the default)", m.ReportInterval)
	}
}

// address checks local@domain and returns it with the domain normalised.
func (d *decoder) address(key, a string) (string, bool) {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || strings.ContainsAny(a[:at], " \t\r\n<>\"") {
		d.errorf(key, "%s %q is not an address (local@domain)", key, a)
		return a, false
	}
	dom, err := NormalizeDomain(a[at+1:])
	if err != nil {
		d.errorf(key, "%s: %v", key, err)
		return a, false
	}
	return strings.ToLower(a[:at]) + "@" + dom, true
}
