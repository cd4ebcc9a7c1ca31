package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const rateBase = "hostname = \"mx.example.test\"\ndata_dir = \"/tmp/x\"\n"

func TestRateLimitGood(t *testing.T) {
	c, _, err := Load(writeConfig(t, rateBase+`
[[listener]]
name = "in"
address = "127.0.0.1:25"
mode = "mta"

[ratelimit]
backend = "redis"
redis_url = "redis://127.0.0.1:6379/2"
on_backend_error = "fail_closed"
window = "10m"
auth_lockout = "1h"
connections_per_ip_per_hour = 1200
max_connections = -1
messages_per_user_per_hour = -1

[[ratelimit.override]]
networks = ["192.0.2.0/24", "2001:db8::/48"]
connections_per_ip_per_hour = -1
max_connections_per_ip = 50

[[ratelimit.override]]
users = ["Newsletter@Example.test"]
messages_per_user_per_hour = 5000

[[ratelimit.override]]
listeners = ["in"]
max_connections = 100
`))
	if err != nil {
		t.Fatal(err)
	}
	want := RateLimit{
		Backend: "redis", RedisURL: "redis://127.0.0.1:6379/2", OnBackendError: "fail_closed",
		Window: 10 * time.Minute, AuthLockout: time.Hour,
		ConnectionsPerIPPerHour: 1200, MaxConnections: Unlimited, MessagesPerUserPerHour: Unlimited,
		Overrides: []RateOverride{
			{Networks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/48")},
				ConnectionsPerIPPerHour: Unlimited, MaxConnectionsPerIP: 50},
			{Users: []string{"newsletter@example.test"}, MessagesPerUserPerHour: 5000},
			{Listeners: []string{"in"}, MaxConnections: 100},
		},
	}
	if !reflect.DeepEqual(c.RateLimit, want) {
		t.Fatalf("got  %+v\nwant %+v", c.RateLimit, want)
	}
	c, _, err = Load(writeConfig(t, rateBase))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.RateLimit, defaultRateLimit()) {
		t.Fatalf("defaults: %+v", c.RateLimit)
	}
}

func TestRateLimitBad(t *testing.T) {
	tests := []struct{ text, want string }{
		{"[ratelimit]\nbackend = \"memcache\"\n", `:4: ratelimit.backend "memcache" is not "memory", "redis" or "postgres"`},
		{"[ratelimit]\nbackend = \"postgres\"\n", ":4: ratelimit: backend = \"postgres\" needs postgres_url"},
		{"[ratelimit]\nbackend = \"postgres\"\npostgres_url = \"postgres://u@db.example.org/p\"\n", ":5: ratelimit.postgres_url is not on loopback: add sslmode=verify-full"},
		{"[ratelimit]\nbackend = \"postgres\"\npostgres_url = \"mysql://u@127.0.0.1/p\"\n", ":5: ratelimit.postgres_url: want postgres://"},
		{"[ratelimit]\npostgres_url = \"postgres://u:pw@127.0.0.1/p\"\npostgres_password_file = \"/etc/pw\"\nbackend = \"postgres\"\n", ":5: ratelimit.postgres_url: give the password in ratelimit.postgres_password_file or in the URL, not both"},
		{"[ratelimit]\npostgres_password_file = \"/etc/pw\"\n", ":4: ratelimit.postgres_password_file is set but postgres_url is not"},
		{"[ratelimit]\nbackend = \"redis\"\n", ":4: ratelimit: backend = \"redis\" needs redis_url"},
		{"[ratelimit]\nbackend = \"redis\"\nredis_url = \"http://x\"\n", ":5: ratelimit.redis_url \"http://x\" must start with redis://"},
		{"[ratelimit]\nredis_url = \"redis:///0\"\nbackend = \"redis\"\n", ":4: ratelimit.redis_url \"redis:///0\" has no host"},
		{"[ratelimit]\non_backend_error = \"open\"\n", ":4: ratelimit.on_backend_error \"open\" is not"},
		{"[ratelimit]\nmax_connections = -2\n", ":4: ratelimit.max_connections -2 is not a limit"},
		{"[ratelimit]\nmax_connections = \"10\"\n", ":4: ratelimit.max_connections must be an integer"},
		{"[ratelimit]\nwindow = \"10ms\"\n", ":4: ratelimit.window must be at least 1s"},
		{"[ratelimit]\nconections_per_ip_per_hour = 1\n", "did you mean connections_per_ip_per_hour?"},
		{"[[ratelimit.override]]\nmax_connections_per_ip = 5\n", ":3: ratelimit.override 1 matches every connection"},
		{"[[ratelimit.override]]\nlisteners = [\"nope\"]\nmax_connections_per_ip = 5\n", ":4: ratelimit.override 1: no listener is named \"nope\""},
		{"[[ratelimit.override]]\nnetworks = [\"10.0.0.0/8\"]\nmax_connections = 5\n", ":5: ratelimit.override 1: max_connections limits the connections of listeners"},
		{"[[ratelimit.override]]\nnetworks = [\"10.0.0.300/8\"]\n", ":4: ratelimit.override[0].networks[0]: \"10.0.0.300/8\""},
		{"[[ratelimit.override]]\nusers = [\"a b\"]\n", ":4: ratelimit.override 1: \"a b\" is not a user name"},
	}
	for _, tt := range tests {
		_, _, err := Load(writeConfig(t, rateBase+tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestRateLimitWarnings(t *testing.T) {
	_, warns, err := Load(writeConfig(t, rateBase+"[ratelimit]\nwindow = \"2s\"\nredis_url = \"redis://h:1/0\"\nbackend = \"memory\"\n[[ratelimit.override]]\nusers = [\"x\"]\nconnections_per_ip_per_hour = 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, w := range warns {
		all = append(all, w.String())
	}
	s := strings.Join(all, "\n")
	for _, want := range []string{"ratelimit.window 2s", "backend is \"memory\"", "an override with users never applies"} {
		if !strings.Contains(s, want) {
			t.Errorf("no warning %q in:\n%s", want, s)
		}
	}
}

func FuzzRateLimit(f *testing.F) {
	f.Add("[ratelimit]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:6379/0\"\nmax_connections = -1\n")
	f.Add("[ratelimit]\nbackend = \"postgres\"\npostgres_url = \"postgres://postern@db.example.org/postern?sslmode=verify-full\"\n")
	f.Add("[[ratelimit.override]]\nnetworks = [\"::/0\"]\nusers = [\"A\"]\nlisteners = [\"mta\"]\nmax_connections = 3\n")
	f.Add("[ratelimit]\nwindow = \"1h\"\nauth_lockout = \"-1s\"\nconnections_per_ip_per_hour = 9223372036854775807\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, section string) {
		p := filepath.Join(dir, "fuzz.toml")
		if err := os.WriteFile(p, []byte(rateBase+section), 0o600); err != nil {
			t.Fatal(err)
		}
		c, _, err := Load(p)
		if (err == nil) == (c == nil) {
			t.Fatal("Load must return a config or an error")
		}
		if c == nil {
			return
		}
		r := c.RateLimit
		if r.Backend != "memory" && r.Backend != "redis" && r.Backend != "postgres" || r.Backend == "postgres" && r.PostgresURL == "" || r.Window < time.Second || r.AuthLockout < time.Second {
			t.Fatalf("invalid section accepted: %+v", r)
		}
		for _, l := range []Limit{r.ConnectionsPerIPPerHour, r.MaxConnections, r.MaxConnectionsPerIP, r.MessagesPerUserPerHour} {
			if l < -1 {
				t.Fatalf("limit %d accepted", l)
			}
		}
	})
}
