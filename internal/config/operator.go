package config

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Admin is the [admin] table: the loopback listener for Prometheus and
// health checks.
type Admin struct {
	// Address is "host:port" of the admin HTTP listener serving /metrics,
	// /healthz and /status; "" turns it off.
	Address string `toml:"address"`
	// TLS serves the listener (metrics and the web console) over TLS
	// with the server's certificate ([tls] cert and key, or the one
	// postern generates). A non-loopback address needs it.
	TLS bool `toml:"tls"`
}

// AdminLoopback reports whether an admin address listens on loopback
// only: 127.0.0.0/8, ::1 or localhost. An empty host (all addresses) is
// not loopback.
func AdminLoopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// DefaultAdminAddress is loopback only: metrics tell a lot about a host.
const DefaultAdminAddress = "127.0.0.1:9025"

// Log is the [log] table.
type Log struct {
	// Format is "text" (one syslog-style line per event) or "json".
	Format string `toml:"format"`
}

// Alert is the [alert] table: outbound spike detection.
type Alert struct {
	// Enabled turns spike detection on (the default).
	Enabled bool `toml:"enabled"`
	// Window is the interval over which outbound messages are counted.
	Window time.Duration `toml:"window"`
	// BaselineWindows is how many past windows make the baseline.
	BaselineWindows int `toml:"baseline_windows"`
	// Factor: a window with more than Factor times the baseline trips.
	Factor int `toml:"factor"`
	// UserFloor is the smallest baseline a user is held to, in messages
	// per window, so that a quiet user is not flagged for a few messages.
	UserFloor int `toml:"user_floor"`
	// HostFloor is the same for the whole host.
	HostFloor int `toml:"host_floor"`
	// Action is "log", "hold" (new mail of the user stays in the queue)
	// or "refuse" (new mail is refused with 451 4.7.1).
	Action string `toml:"action"`
	// Duration is how long the action lasts once tripped.
	Duration time.Duration `toml:"duration"`
	// Webhook, when set, gets a JSON POST per alert.
	Webhook string `toml:"webhook"`
	// MailPostmaster sends a mail to the postmaster per alert.
	MailPostmaster bool `toml:"mail_postmaster"`
}

// Defaults of the [alert] table.
const (
	DefaultAlertWindow          = 10 * time.Minute
	DefaultAlertBaselineWindows = 36 // six hours of 10-minute windows
	DefaultAlertFactor          = 5
	DefaultAlertUserFloor       = 20
	DefaultAlertHostFloor       = 200
	DefaultAlertDuration        = time.Hour
)

func defaultAlert() Alert {
	return Alert{
		Enabled:         true,
		Window:          DefaultAlertWindow,
		BaselineWindows: DefaultAlertBaselineWindows,
		Factor:          DefaultAlertFactor,
		UserFloor:       DefaultAlertUserFloor,
		HostFloor:       DefaultAlertHostFloor,
		Action:          "log",
		Duration:        DefaultAlertDuration,
		MailPostmaster:  true,
	}
}

// operator validates [admin], [log] and [alert].
func (d *decoder) operator(c *Config) {
	if a := c.Admin.Address; a != "" {
		if i := strings.LastIndexByte(a, ':'); i < 0 || i == len(a)-1 {
			d.errorf("admin.address", "admin.address %q must be host:port (or \"\" for none)", a)
		} else if !c.Admin.TLS && !AdminLoopback(a) {
			d.errorf("admin.address", "admin.address %q is not a loopback address: the console's passwords and cookies "+
				"would cross the network in clear; set admin.tls = true (the server's certificate), or listen on "+
				"127.0.0.1:9025 and reach it with ssh -L 9025:127.0.0.1:9025", a)
		}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		d.errorf("log.format", "log.format must be \"text\" or \"json\", not %q", c.Log.Format)
	}
	al := &c.Alert
	switch al.Action {
	case "log", "hold", "refuse":
	default:
		d.errorf("alert.action", "alert.action must be \"log\", \"hold\" or \"refuse\", not %q", al.Action)
	}
	if al.BaselineWindows < 1 {
		d.errorf("alert.baseline_windows", "alert.baseline_windows must be at least 1")
	}
	if al.Factor < 2 {
		d.errorf("alert.factor", "alert.factor must be at least 2")
	}
	if al.UserFloor < 1 {
		d.errorf("alert.user_floor", "alert.user_floor must be at least 1")
	}
	if al.HostFloor < 1 {
		d.errorf("alert.host_floor", "alert.host_floor must be at least 1")
	}
	if al.Webhook != "" {
		u, err := url.Parse(al.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf("alert.webhook", "alert.webhook %q must be an http:// or https:// URL", al.Webhook)
		}
	}
}
