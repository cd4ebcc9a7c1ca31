package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// RateLimit is the [ratelimit] table: rate and concurrency limits and
// where their counters live. In every limit 0 means the documented
// default of the listener's mode and -1 means unlimited (docs/limits.md).
type RateLimit struct {
	// Backend is "memory" (in-process, the default), "redis" or
	// "postgres" (shared by every node pointed at the same database).
	Backend string `toml:"backend"`
	// RedisURL is redis://[user:password@]host:port/db, rediss:// for
	// TLS or unix:///path.
	RedisURL string `toml:"redis_url"`
	// RedisPrefix starts every key postern writes; "" means "postern:".
	// The PostgreSQL backend starts its keys with it too.
	RedisPrefix string `toml:"redis_prefix"`
	// PostgresURL is a libpq URL,
	// postgres://USER@HOST:PORT/DB?sslmode=verify-full.
	PostgresURL string `toml:"postgres_url"`
	// PostgresPasswordFile holds the password on its first line (not
	// readable by others; read as root at start); else the URL's or none.
	PostgresPasswordFile string `toml:"postgres_password_file"`
	// OnBackendError is "fail_open" (let mail in, log, count) or
	// "fail_closed" (answer 4xx) when the backend cannot be reached.
	OnBackendError string `toml:"on_backend_error"`
	// Window is the length of the *_per_hour windows; limits scale with
	// it (a shorter window smooths bursts). Default 1h.
	Window time.Duration `toml:"window"`
	// AuthLockout is how long a client is locked out after
	// auth_failures_per_ip_per_hour failed logins. Default 30m.
	AuthLockout time.Duration `toml:"auth_lockout"`

	ConnectionsPerIPPerHour  Limit `toml:"connections_per_ip_per_hour"`
	MaxConnections           Limit `toml:"max_connections"`
	MaxConnectionsPerIP      Limit `toml:"max_connections_per_ip"`
	MessagesPerUserPerHour   Limit `toml:"messages_per_user_per_hour"`
	RecipientsPerUserPerHour Limit `toml:"recipients_per_user_per_hour"`
	AuthFailuresPerIPPerHour Limit `toml:"auth_failures_per_ip_per_hour"`
	OutboundPerUserPerHour   Limit `toml:"outbound_per_user_per_hour"`
	OutboundPerHostPerHour   Limit `toml:"outbound_per_host_per_hour"`

	// Overrides are the [[ratelimit.override]] tables, applied in order.
	Overrides []RateOverride `toml:"override"`
}

// RateOverride is one [[ratelimit.override]]: limits for the connections
// that match every list given (listener names, client networks,
// authenticated users). 0 leaves a limit as it is; -1 is unlimited.
type RateOverride struct {
	Listeners []string       `toml:"listeners"`
	Networks  []netip.Prefix `toml:"networks"`
	Users     []string       `toml:"users"`

	ConnectionsPerIPPerHour  Limit `toml:"connections_per_ip_per_hour"`
	MaxConnections           Limit `toml:"max_connections"`
	MaxConnectionsPerIP      Limit `toml:"max_connections_per_ip"`
	MessagesPerUserPerHour   Limit `toml:"messages_per_user_per_hour"`
	RecipientsPerUserPerHour Limit `toml:"recipients_per_user_per_hour"`
	AuthFailuresPerIPPerHour Limit `toml:"auth_failures_per_ip_per_hour"`
	OutboundPerUserPerHour   Limit `toml:"outbound_per_user_per_hour"`
	OutboundPerHostPerHour   Limit `toml:"outbound_per_host_per_hour"`
}

// Limit is a count limit: a positive number, 0 for the default or -1 for
// unlimited.
type Limit int64

// Unlimited is the Limit value that turns a limit off.
const Unlimited Limit = -1

// decodeTOML implements selfDecoder: integers from -1 up.
func (l *Limit) decodeTOML(raw any) error {
	n, ok := raw.(int64)
	if !ok {
		return fmt.Errorf("must be an integer (0 = default, -1 = unlimited), not %s", typeName(raw))
	}
	if n < -1 {
		return fmt.Errorf("%d is not a limit (a positive number, 0 = default, -1 = unlimited)", n)
	}
	*l = Limit(n)
	return nil
}

// The [ratelimit] defaults.
const (
	DefaultRateWindow  = time.Hour
	DefaultAuthLockout = 30 * time.Minute
)

func defaultRateLimit() RateLimit {
	return RateLimit{Backend: "memory", OnBackendError: "fail_open", Window: DefaultRateWindow, AuthLockout: DefaultAuthLockout}
}

func (d *decoder) ratelimit(c *Config) {
	r := &c.RateLimit
	switch r.Backend {
	case "memory":
	case "redis":
		if r.RedisURL == "" {
			d.errorf("ratelimit.backend", "ratelimit: backend = \"redis\" needs redis_url (such as \"redis://127.0.0.1:6379/0\")")
		}
	case "postgres":
		if r.PostgresURL == "" {
			d.errorf("ratelimit.backend", "ratelimit: backend = \"postgres\" needs postgres_url (such as \"postgres://postern@db.example.org/postern?sslmode=verify-full\")")
		}
	default:
		d.errorf("ratelimit.backend", "ratelimit.backend %q is not \"memory\", \"redis\" or \"postgres\"", r.Backend)
	}
	d.ratePostgres(r)
	if r.RedisURL != "" {
		u, err := url.Parse(r.RedisURL)
		switch {
		case err != nil:
			d.errorf("ratelimit.redis_url", "ratelimit.redis_url is not a URL: %v", err)
		case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
			d.errorf("ratelimit.redis_url", "ratelimit.redis_url %q must start with redis://, rediss:// or unix://", r.RedisURL)
		case u.Scheme != "unix" && u.Host == "":
			d.errorf("ratelimit.redis_url", "ratelimit.redis_url %q has no host", r.RedisURL)
		}
		if r.Backend == "memory" && d.defined["ratelimit.backend"] {
			d.warnf("ratelimit.redis_url", "ratelimit.redis_url is set but backend is \"memory\": Redis is not used")
		}
	}
	switch r.OnBackendError {
	case "fail_open", "fail_closed":
	default:
		d.errorf("ratelimit.on_backend_error", "ratelimit.on_backend_error %q is not \"fail_open\" or \"fail_closed\"", r.OnBackendError)
	}
	if r.Window < time.Second {
		d.errorf("ratelimit.window", "ratelimit.window must be at least 1s")
	} else if r.Window < time.Minute || r.Window > 24*time.Hour {
		d.warnf("ratelimit.window", "ratelimit.window %s: the hourly limits are scaled to it; windows under a minute or over a day count badly (keep 1h unless you know why)", r.Window)
	}
	if r.AuthLockout < time.Second {
		d.errorf("ratelimit.auth_lockout", "ratelimit.auth_lockout must be at least 1s")
	}
	if r.MaxConnections > 0 && r.MaxConnections < 10 {
		d.warnf("ratelimit.max_connections", "ratelimit.max_connections %d: a handful of slow clients can then lock everyone out", r.MaxConnections)
	}
	names := map[string]bool{}
	for _, l := range c.Listeners {
		names[l.Name] = true
	}
	for i := range r.Overrides {
		o := &r.Overrides[i]
		p := indexPath("ratelimit.override", i)
		if len(o.Listeners) == 0 && len(o.Networks) == 0 && len(o.Users) == 0 {
			d.errorf(p, "ratelimit.override %d matches every connection: set listeners, networks or users (or change [ratelimit] itself)", i+1)
		}
		for j, n := range o.Listeners {
			if !names[n] {
				d.errorf(indexPath(p+".listeners", j), "ratelimit.override %d: no listener is named %q", i+1, n)
			}
		}
		for j, u := range o.Users {
			if u == "" || strings.ContainsAny(u, " \t\r\n") {
				d.errorf(indexPath(p+".users", j), "ratelimit.override %d: %q is not a user name", i+1, u)
			}
			o.Users[j] = strings.ToLower(u)
		}
		if o.MaxConnections != 0 && (len(o.Networks) > 0 || len(o.Users) > 0 || len(o.Listeners) == 0) {
			d.errorf(p+".max_connections", "ratelimit.override %d: max_connections limits the connections of listeners; use it with listeners only (max_connections_per_ip is per client)", i+1)
		}
		if len(o.Users) > 0 && o.hasPerIPLimit() && len(o.Networks) == 0 {
			d.warnf(p+".users", "ratelimit.override %d: per-client limits are checked before AUTH, so an override with users never applies to them", i+1)
		}
		if slices.Contains(o.Listeners, "") {
			d.errorf(p+".listeners", "ratelimit.override %d: empty listener name", i+1)
		}
	}
}

func (o *RateOverride) hasPerIPLimit() bool {
	return o.ConnectionsPerIPPerHour != 0 || o.MaxConnectionsPerIP != 0 || o.AuthFailuresPerIPPerHour != 0
}

// ratePostgres checks postgres_url and its password file as
// [postgres_maps] is checked: TLS with a verified certificate off
// loopback, the password in one place.
func (d *decoder) ratePostgres(r *RateLimit) {
	if r.PostgresURL == "" {
		if r.PostgresPasswordFile != "" {
			d.errorf("ratelimit.postgres_password_file", "ratelimit.postgres_password_file is set but postgres_url is not")
		}
		return
	}
	if !d.postgresURL("ratelimit.postgres_url", "ratelimit.postgres_password_file", r.PostgresURL, r.PostgresPasswordFile, "the counters") {
		return
	}
	if r.Backend != "postgres" && d.defined["ratelimit.backend"] {
		d.warnf("ratelimit.postgres_url", "ratelimit.postgres_url is set but backend is %q: PostgreSQL is not used", r.Backend)
	}
}
