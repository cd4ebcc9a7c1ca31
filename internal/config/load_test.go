package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "postern.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodConfig = `# a production gateway
hostname = "MX.Example.TEST."
data_dir = "/var/lib/postern"
maps_dir = "/etc/postern"
local_domains = ["Example.TEST", "bücher.example"]
relay_domains = ["backup.example.test."]
trusted_networks = ["127.0.0.0/8", "::1", "192.0.2.7", "2001:db8::/64"]
user = "nobody"
postmaster = "admin@Example.Test"

[[listener]]
address = "192.0.2.1:25"
mode = "mta"

[[listener]]
name = "sub"
address = "[2001:db8::1]:587"
mode = "submission"

[[listener]]
address = "127.0.0.1:465"
mode = "smtps"

[tls]
cert = "/etc/postern/cert.pem"
key = "/etc/postern/key.pem"

[dns]
servers = ["127.0.0.1:5353", "::1"]
timeout = "2s"

[delivery]
mailbox = "/var/mail/{domain}/{user}"

[limits]
max_message_bytes = 10485760
max_recipients = 200
max_errors = 5
command_timeout = "6m"
data_timeout = "15m"
`

func TestLoadGood(t *testing.T) {
	p := writeConfig(t, goodConfig)
	c, warns, err := Load(p)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(warns) != 0 {
		t.Errorf("unexpected warnings: %v", warns)
	}
	want := &Config{
		File:         p,
		Hostname:     "mx.example.test",
		DataDir:      "/var/lib/postern",
		MapsDir:      "/etc/postern",
		LocalDomains: []string{"example.test", "xn--bcher-kva.example"},
		RelayDomains: []string{"backup.example.test"},
		TrustedNetworks: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
			netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/64"),
		},
		User:       "nobody",
		Postmaster: "admin@example.test",
		Listeners: []Listener{
			{Name: "mta", Address: "192.0.2.1:25", Mode: ModeMTA},
			{Name: "sub", Address: "[2001:db8::1]:587", Mode: ModeSubmission},
			{Name: "smtps", Address: "127.0.0.1:465", Mode: ModeSMTPS},
		},
		TLS:      TLS{Cert: "/etc/postern/cert.pem", Key: "/etc/postern/key.pem"},
		DNS:      DNS{Servers: []string{"127.0.0.1:5353", "[::1]:53"}, Timeout: 2 * time.Second},
		Delivery: Delivery{Mailbox: "/var/mail/{domain}/{user}", Mode: DeliveryBackground, DeliveryRemote: DefaultDeliveryRemote()},
		Limits: Limits{
			MaxMessageBytes: 10485760, MaxRecipients: 200, MaxErrors: 5,
			MaxCommandLineBytes: 512,
			CommandTimeout:      6 * time.Minute, DataTimeout: 15 * time.Minute,
		},
		Admin: Admin{Address: DefaultAdminAddress},
		Log:   Log{Format: "text"},
		Alert: defaultAlert(),
		SPF:   defaultSPF(),
		DKIM:  defaultDKIM(),
		DMARC: DMARC{Check: true, Enforce: true, Quarantine: "junk", ReportInterval: DefaultReportInterval, ReportFrom: "dmarc-reports@mx.example.test",
			FailureReportInterval: DefaultFailureReportInterval, FailureReportsPerHour: DefaultFailureReportsPerHour},

		RateLimit:   defaultRateLimit(),
		Local:       defaultLocal(DefaultLocalSocket),
		SenderLogin: defaultSenderLogin(),
		Sandbox:     defaultSandbox(),
		Queue:       defaultQueue(),
		MTASTS: MTASTS{Outbound: MTASTSEnforce, MX: []string{"mx.example.test"},
			MaxAge: DefaultMTASTSMaxAge, Listen: ":443"},
		SRS:           SRS{Enabled: true, Domain: "mx.example.test", MaxAge: DefaultSRSMaxAge},
		TLSRPT:        TLSRPT{Enabled: true, ReportFrom: "postmaster@mx.example.test", Submitter: "mx.example.test", ContactInfo: "postmaster@mx.example.test"},
		ARC:           ARC{Verify: true, SealDomain: "example.test"},
		LDAPMaps:      defaultLDAPMaps(),
		PostgresMaps:  defaultPostgresMaps(),
		PostgresUsers: defaultPostgresUsers(),
		Summary:       Summary{Schedule: "off"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadFileDefaults(t *testing.T) {
	p := writeConfig(t, "hostname = \"mx.example.test\"\nuser = \"nobody\"\ndata_dir = \"data\"\n[delivery]\nmailbox = \"mail/{user}/\"\n")
	c, _, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	if c.DataDir != filepath.Join(dir, "data") {
		t.Errorf("DataDir = %q, want relative to the config file", c.DataDir)
	}
	if c.MapsDir != dir {
		t.Errorf("MapsDir = %q, want the config file's directory %q", c.MapsDir, dir)
	}
	if c.Delivery.Mailbox != filepath.Join(dir, "data", "mail")+"/{user}/" {
		t.Errorf("Mailbox = %q, want under data_dir with the trailing slash kept", c.Delivery.Mailbox)
	}
	if !reflect.DeepEqual(c.LocalDomains, []string{"mx.example.test"}) {
		t.Errorf("LocalDomains = %v, want the hostname", c.LocalDomains)
	}
	if c.Postmaster != "postmaster@mx.example.test" {
		t.Errorf("Postmaster = %q", c.Postmaster)
	}
	if len(c.Listeners) != 3 || c.Listeners[0].Address != ":25" || c.Listeners[2].Mode != ModeSMTPS {
		t.Errorf("Listeners = %+v, want the standard ports", c.Listeners)
	}
	if c.Limits != defaultLimits() {
		t.Errorf("Limits = %+v, want defaults", c.Limits)
	}
	if !c.Trusted(netip.MustParseAddr("127.0.0.2")) || !c.Trusted(netip.MustParseAddr("::ffff:127.0.0.1")) || c.Trusted(netip.MustParseAddr("192.0.2.1")) {
		t.Error("default trusted networks are not exactly loopback")
	}
}

// TestLoadErrors checks that each kind of problem is reported with its
// line.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		msg        string
	}{
		{"syntax", "hostname = \"a.example\"\nlocal_domains = [\n\"x.example\",\n=\n", 4, ""},
		{"unknown top key", "user = \"nobody\"\n\nhostnme = \"mx.example.test\"\n", 3, "unknown key hostnme (did you mean hostname?)"},
		{"unknown table key", "user = \"nobody\"\n[limits]\nmax_recipients = 100\nmax_rcpt = 5\n", 4, "unknown key limits.max_rcpt"},
		{"unknown table", "user = \"nobody\"\n[smtpd]\nx = 1\n", 2, "unknown key smtpd"},
		{"unknown listener key", "user = \"nobody\"\n[[listener]]\naddress = \"127.0.0.1:25\"\nmode = \"mta\"\n[[listener]]\naddress = \"127.0.0.1:26\"\nmode = \"mta\"\ntls = true\n", 8, "unknown key listener[1].tls"},
		{"wrong type", "user = \"nobody\"\nlocal_domains = \"example.test\"\n", 2, "local_domains must be an array, not a string"},
		{"wrong element type", "user = \"nobody\"\nlocal_domains = [\n  \"a.example\",\n  42,\n]\n", 4, "local_domains[1] must be a string, not an integer"},
		{"bad domain", "user = \"nobody\"\nrelay_domains = [\"ok.example\", \"bad_domain.example\"]\n", 2, "relay_domains"},
		{"ip as domain", "user = \"nobody\"\nlocal_domains = [\"192.0.2.1\"]\n", 2, "is an IP address"},
		{"bad network", "user = \"nobody\"\n\ntrusted_networks = [\"10.0.0.0/33\"]\n", 3, "is not a CIDR network"},
		{"bad mode", "user = \"nobody\"\n[[listener]]\naddress = \"127.0.0.1:25\"\nmode = \"relay\"\n", 4, "mode \"relay\" is not mta, submission or smtps"},
		{"missing address", "user = \"nobody\"\n[[listener]]\nmode = \"mta\"\n", 2, "address is missing"},
		{"bad port", "user = \"nobody\"\n[[listener]]\naddress = \"127.0.0.1:99999\"\nmode = \"mta\"\n", 3, "port \"99999\""},
		{"hostname listener", "user = \"nobody\"\n[[listener]]\naddress = \"mx.example:25\"\nmode = \"mta\"\n", 3, "is not an IP address"},
		{"duplicate listener", "user = \"nobody\"\n[[listener]]\naddress = \"127.0.0.1:25\"\nmode = \"mta\"\n[[listener]]\naddress = \"127.0.0.1:25\"\nmode = \"mta\"\n", 6, "already used"},
		{"no listeners", "user = \"nobody\"\nlistener = []\n", 2, "no [[listener]]"},
		{"cert without key", "user = \"nobody\"\n[tls]\ncert = \"c.pem\"\n", 3, "key is not"},
		{"dns hostname", "user = \"nobody\"\n[dns]\nservers = [\"ns.example:53\"]\n", 3, "not an IP address"},
		{"dns timeout", "user = \"nobody\"\n[dns]\ntimeout = \"soon\"\n", 3, "not a positive duration"},
		{"dnssec trusted", "user = \"nobody\"\n[dns]\ndnssec_trusted = [\"10.0.0.0/8\", \"resolver.example\"]\n", 3, "dns.dnssec_trusted: \"resolver.example\" is not an IP address or a CIDR prefix"},
		{"duration as int", "user = \"nobody\"\n[limits]\ncommand_timeout = 300\n", 3, "must be a duration"},
		{"negative int", "user = \"nobody\"\n[limits]\nmax_errors = -1\n", 3, "must not be negative"},
		{"small message", "user = \"nobody\"\n[limits]\nmax_message_bytes = 1000\n", 3, "at least 65536"},
		{"small command line", "user = \"nobody\"\n[limits]\nmax_command_line_bytes = 100\n", 3, "at least 512"},
		{"mailbox placeholder", "user = \"nobody\"\n[delivery]\nmailbox = \"/var/mail/{localpart}\"\n", 3, "unknown placeholder {localpart}"},
		{"no such user", "user = \"no-such-user-postern\"\n", 1, "no such user"},
		{"root user", "user = \"root\"\n", 1, "uid 0"},
		{"local and relay", "user = \"nobody\"\nlocal_domains = [\"a.example\"]\nrelay_domains = [\"A.example.\"]\n", 3, "also in local_domains"},
		{"bad postmaster", "user = \"nobody\"\npostmaster = \"nobody\"\n", 2, "not an address"},
		{"table as key", "user = \"nobody\"\ntls = 1\n", 2, "tls must be a table"},
		{"inline listener", "user = \"nobody\"\nlistener = [{address = \"127.0.0.1:25\", mode = \"mtaa\"}]\n", 2, "mode \"mtaa\""},
		{"string as int", "user = \"nobody\"\nhostname = 5\n", 2, "hostname must be a string, not an integer"},
		{"bool as string", "user = \"nobody\"\nallow_sender_relay = \"yes\"\n", 2, "allow_sender_relay must be true or false, not a string"},
		{"network as int", "user = \"nobody\"\ntrusted_networks = [5]\n", 2, "trusted_networks[0] must be a string with an address or CIDR network, not an integer"},
		{"int as string", "user = \"nobody\"\n[limits]\nmax_errors = \"3\"\n", 3, "limits.max_errors must be an integer, not a string"},
		{"tables as int", "user = \"nobody\"\nlistener = 3\n", 2, "listener must be an array of tables ([[listener]]), not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.text)
			c, _, err := Load(p)
			if err == nil {
				t.Fatalf("Load succeeded (%+v), want an error", c)
			}
			if c != nil {
				t.Error("Load returned a config with an error")
			}
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error %v is not a *Error with problems", err)
			}
			pr := e.Problems[0]
			if pr.File != p || pr.Line != tt.line || !strings.Contains(pr.Msg, tt.msg) {
				t.Errorf("problem = %s:%d: %s\nwant %s:%d: ...%s...", pr.File, pr.Line, pr.Msg, p, tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), p+":") {
				t.Errorf("error text %q does not start with file:line", err)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	text := `hostname = "mx.example.test"
user = "nobody"
bogus = 1
local_domains = ["ok.example", "not a domain"]

[[listener]]
address = "127.0.0.1:25"
mode = "mta"

[[listener]]
address = "127.0.0.1"
mode = "smtp"

[limits]
max_recipients = "many"
data_timeout = "forever"
`
	p := writeConfig(t, text)
	_, _, err := Load(p)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Load: %v, want *Error", err)
	}
	var got []string
	for _, pr := range e.Problems {
		got = append(got, strings.TrimPrefix(pr.String(), p))
	}
	want := []string{":3:", ":4:", ":11:", ":12:", ":15:", ":16:"}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant lines %v", strings.Join(got, "\n"), want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want line %s", i, got[i], want[i])
		}
	}
}

func TestLoadWarnings(t *testing.T) {
	text := `hostname = "mx.example.test"
user = "nobody"
trusted_networks = [
  "127.0.0.0/8",
  "10.0.0.0/8",
  "0.0.0.0/0",
  "2001:db8::/32",
  "192.0.2.9/24",
]
local_domains = ["a.example", "A.example"]

[[listener]]
address = ":587"
mode = "submission"

[[listener]]
address = "127.0.0.1:25"
mode = "smtps"

[limits]
max_recipients = 50
command_timeout = "1m"
`
	p := writeConfig(t, text)
	c, warns, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{
		5:  "open relay for that network",
		6:  "open relay for the whole internet",
		7:  "wider than a /48",
		8:  "host bits set",
		10: "listed twice",
		12: "self-signed certificate",
		18: "port 25 is the mta port",
		21: "RFC 5321 4.5.3.1.8",
		22: "4.5.3.2.7",
	}
	got := map[int]string{}
	for _, w := range warns {
		if w.File != p {
			t.Errorf("warning %v has file %q", w, w.File)
		}
		got[w.Line] += w.Msg
	}
	for line, msg := range want {
		if !strings.Contains(got[line], msg) {
			t.Errorf("line %d: warnings %q, want one containing %q", line, got[line], msg)
		}
	}
	if len(warns) != len(want) {
		t.Errorf("got %d warnings, want %d: %v", len(warns), len(want), warns)
	}
	if c.TrustedNetworks[4] != netip.MustParsePrefix("192.0.2.0/24") {
		t.Errorf("masked prefix = %v", c.TrustedNetworks[4])
	}
}

func TestRootWithoutUserWarns(t *testing.T) {
	p := writeConfig(t, "hostname = \"mx.example.test\"\n")
	_, warns, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range warns {
		found = found || strings.Contains(w.Msg, "refuses to run as root")
	}
	if found != (os.Geteuid() == 0) {
		t.Errorf("root warning = %v with euid %d: %v", found, os.Geteuid(), warns)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if c.DataDir != "./postern-data" || c.Hostname != "localhost" {
		t.Errorf("Default = %+v", c)
	}
	if !reflect.DeepEqual(c.LocalDomains, []string{"localhost"}) {
		t.Errorf("LocalDomains = %v", c.LocalDomains)
	}
	wantL := map[string]Mode{"127.0.0.1:2525": ModeMTA, "127.0.0.1:2587": ModeSubmission, "127.0.0.1:2465": ModeSMTPS}
	if len(c.Listeners) != len(wantL) {
		t.Errorf("Listeners = %+v", c.Listeners)
	}
	for _, l := range c.Listeners {
		if wantL[l.Address] != l.Mode || l.Name == "" {
			t.Errorf("listener %+v", l)
		}
	}
	if !c.TLS.SelfSigned() {
		t.Error("embedded default is not self-signed")
	}
	if c.Trusted(netip.MustParseAddr("192.168.1.1")) || !c.Trusted(netip.MustParseAddr("::1")) {
		t.Error("embedded default trusts more than loopback")
	}
	if c.Delivery.Mailbox != "./postern-data/mail/{domain}/{user}/" {
		t.Errorf("Mailbox = %q", c.Delivery.Mailbox)
	}
	if c.UsersFile() != "postern-data/users" {
		t.Errorf("UsersFile = %q", c.UsersFile())
	}

	// Load("") is the default, validated, with absolute paths.
	l, _, err := Load("")
	if err != nil {
		t.Fatalf("Load(\"\"): %v", err)
	}
	wd, _ := os.Getwd()
	if l.DataDir != filepath.Join(wd, "postern-data") || l.Delivery.Mailbox != filepath.Join(wd, "postern-data", "mail")+"/{domain}/{user}/" {
		t.Errorf("Load(\"\") paths: %q %q", l.DataDir, l.Delivery.Mailbox)
	}
	if l.File != "" || l.Postmaster != "postmaster@localhost" || len(l.Listeners) != 3 {
		t.Errorf("Load(\"\") = %+v", l)
	}
}

func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.toml")
	_, _, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": cannot read") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Example.ORG.", "example.org"},
		{"BÜCHER.example", "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a-b.c", "a-b.c"},
		{"", ""},
		{".", ""},
		{"a..b", ""},
		{"-a.example", ""},
		{"a b.example", ""},
		{"under_score.example", ""},
		{"[192.0.2.1]", ""},
		{"::1", ""},
		{strings.Repeat("a", 64) + ".example", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("NormalizeDomain(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1/32"},
		{"::1", "::1/128"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"fe80::1%eth0", ""},
		{"192.0.2.0/", ""},
		{"example.org", ""},
	}
	for _, tt := range tests {
		p, _, err := parsePrefix(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("parsePrefix(%q) = %v, want an error", tt.in, p)
			}
			continue
		}
		if err != nil || p.String() != tt.want {
			t.Errorf("parsePrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
}

func TestPositions(t *testing.T) {
	text := `a = 1 # c
"quoted.key" = """
x = 2
"""
arr = [
  "one", # comment ]
  'two',
]
[t]
k.sub = 'v'
[[aot]]
x = 1
[[aot]]
x = 2
[aot.inner]
y = {p = 1, q = [1, 2]}
`
	pos := scanPositions(text)
	want := map[string]int{
		"a": 1, "quoted.key": 2, "arr": 5, "arr[0]": 6, "arr[1]": 7, "t": 9, "t.k": 10, "t.k.sub": 10,
		"aot[0]": 11, "aot[0].x": 12, "aot[1]": 13, "aot[1].x": 14, "aot[1].inner": 15,
		"aot[1].inner.y": 16, "aot[1].inner.y.q[1]": 16,
	}
	for k, l := range want {
		if pos[k] != l {
			t.Errorf("pos[%q] = %d, want %d", k, pos[k], l)
		}
	}
	if _, ok := pos["x"]; ok {
		t.Error("a key inside a multi-line string was recorded")
	}
	if got := pos.line("aot[1].inner.y.zzz[3]"); got != 16 {
		t.Errorf("line of an unrecorded child = %d, want its parent's 16", got)
	}
}
