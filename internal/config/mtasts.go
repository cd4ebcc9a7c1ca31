package config

import (
	"net"
	"strings"
	"time"
)

// MTASTS is the [mta_sts] table: MTA-STS (RFC 8461) for mail we send, and
// the policy we publish for mail sent to us.
type MTASTS struct {
	// Outbound is "enforce" (the default: domains that publish a policy
	// get mail only over verified TLS to the MX hosts it names; a policy in
	// mode testing is followed but never blocks) or "off".
	Outbound string `toml:"outbound"`
	// PolicyMode, when set, serves our own policy file at
	// https://mta-sts.<domain>/.well-known/mta-sts.txt on Listen, with the
	// server's certificate: "enforce", "testing" or "none".
	PolicyMode string `toml:"policy_mode"`
	// MX are the patterns of our MX hosts in the policy; default: hostname.
	MX []string `toml:"mx"`
	// MaxAge is the policy's max_age; default two weeks (RFC 8461 3.2
	// recommends weeks).
	MaxAge time.Duration `toml:"max_age"`
	// Listen is the HTTPS address of the policy server; default ":443".
	Listen string `toml:"listen"`
}

// The [mta_sts] outbound modes.
const (
	MTASTSEnforce = "enforce"
	MTASTSOff     = "off"
)

// DefaultMTASTSMaxAge is two weeks, as RFC 8461 3.2's example.
const DefaultMTASTSMaxAge = 14 * 24 * time.Hour

func defaultMTASTS() MTASTS {
	return MTASTS{Outbound: MTASTSEnforce, MaxAge: DefaultMTASTSMaxAge, Listen: ":443"}
}

// Serves reports whether postern serves our own policy file.
func (m MTASTS) Serves() bool { return m.PolicyMode != "" }

// mtaSTS validates [mta_sts].
func (d *decoder) mtaSTS(c *Config) {
	m := &c.MTASTS
	if m.Outbound != MTASTSEnforce && m.Outbound != MTASTSOff {
		d.errorf("mta_sts.outbound", "mta_sts.outbound must be %q or %q, not %q", MTASTSEnforce, MTASTSOff, m.Outbound)
	}
	switch m.PolicyMode {
	case "", "enforce", "testing", "none":
	default:
		d.errorf("mta_sts.policy_mode", "mta_sts.policy_mode must be enforce, testing or none, not %q", m.PolicyMode)
	}
	// RFC 8461 3.2: max_age is at most 31557600 seconds.
	if m.MaxAge < time.Second || m.MaxAge > 31557600*time.Second {
		d.errorf("mta_sts.max_age", "mta_sts.max_age must be from 1s to 8766h (a year), not %s", m.MaxAge)
	}
	if m.MaxAge < 24*time.Hour && m.Serves() {
		d.warnf("mta_sts.max_age", "mta_sts.max_age %s is under a day: senders forget the policy soon after they stop seeing it (use weeks)", m.MaxAge)
	}
	if len(m.MX) == 0 {
		m.MX = []string{c.Hostname}
	}
	for i, p := range m.MX {
		n, err := NormalizeDomain(strings.TrimPrefix(p, "*."))
		if err != nil {
			d.errorf(indexPath("mta_sts.mx", i), "mta_sts.mx: %q: %v", p, err)
			continue
		}
		if strings.HasPrefix(p, "*.") {
			n = "*." + n
		}
		m.MX[i] = n
	}
	if m.Serves() {
		if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			d.errorf("mta_sts.listen", "mta_sts.listen %q: want host:port, e.g. \":443\"", m.Listen)
		}
	}
}
