// Package config turns postern's TOML configuration into plain structs:
// it applies defaults, normalises names and addresses, and validates
// everything, reporting every problem at once with its file and line.
//
// Only cmd/postern reads the configuration; it hands the other packages
// plain option structs built from a *Config.
package config

import (
	"net/netip"
	"path/filepath"
	"time"
)

// Config is the whole configuration. Field comments name the TOML key.
type Config struct {
	// File is the path the configuration was loaded from; "" for the
	// embedded default.
	File string `toml:"-"`

	Hostname        string         `toml:"hostname"`         // our name in the banner, EHLO and Received
	DataDir         string         `toml:"data_dir"`         // spool, users, generated TLS certificate
	MapsDir         string         `toml:"maps_dir"`         // sendmail-format maps; "" means none
	LocalDomains    []string       `toml:"local_domains"`    // normalised domain names we deliver for
	RelayDomains    []string       `toml:"relay_domains"`    // normalised domains we accept and forward
	TrustedNetworks []netip.Prefix `toml:"trusted_networks"` // clients that may relay without AUTH
	User            string         `toml:"user"`             // user to drop to when started as root
	Postmaster      string         `toml:"postmaster"`       // where postmaster@ every local domain goes

	Listeners []Listener `toml:"listener"`
	TLS       TLS        `toml:"tls"`
	DNS       DNS        `toml:"dns"`
	Delivery  Delivery   `toml:"delivery"`
	Limits    Limits     `toml:"limits"`
	RateLimit RateLimit  `toml:"ratelimit"`
	Milters   []Milter   `toml:"milter"`
	Admin     Admin      `toml:"admin"`
	Log       Log        `toml:"log"`
	Alert     Alert      `toml:"alert"`
	SPF       SPF        `toml:"spf"`
	DKIM      DKIM       `toml:"dkim"`
	DMARC     DMARC      `toml:"dmarc"`
	Checks    Checks     `toml:"checks"`
	Local     Local      `toml:"local"` // local submission (postern sendmail), local.go
	// SenderLogin: the addresses a logged-in client may send as (senderlogin.go).
	SenderLogin SenderLogin `toml:"sender_login"`
	// Sandbox: Landlock confinement of the running server (sandbox.go).
	Sandbox Sandbox `toml:"sandbox"`
	Queue   Queue   `toml:"queue"` // retries, lifetime, delay notices (queue.go)
	// MTASTS: MTA-STS enforced outbound and our own policy (mtasts.go).
	MTASTS MTASTS `toml:"mta_sts"`
	// SRS: the Sender Rewriting Scheme for forwarded mail (srs.go).
	SRS SRS `toml:"srs"`
	// TLSRPT: TLS reports (RFC 8460) about the mail we send (tlsrpt.go).
	TLSRPT TLSRPT `toml:"tlsrpt"`
	// ARC: chains of incoming mail and our seal on forwarded mail (arc.go).
	ARC ARC `toml:"arc"`
	// LDAPMaps: sendmail's maps from an LDAP directory (ldapmaps.go).
	LDAPMaps LDAPMaps `toml:"ldap_maps"`
	// PostgresMaps: sendmail's maps from a PostgreSQL table (postgresmaps.go).
	PostgresMaps PostgresMaps `toml:"postgres_maps"`
	// PostgresUsers: the AUTH users from a PostgreSQL table (postgresusers.go).
	PostgresUsers PostgresUsers `toml:"postgres_users"`
	// Summary: the daily or weekly report mail to the postmaster (summary.go).
	Summary Summary `toml:"summary"`
	// BackupMX: the domains we are a backup MX for (backupmx.go).
	BackupMX []BackupMX `toml:"backup_mx"`

	// allow_sender_relay (route.go).
	Routing
}

// Mode says what a listener is for.
type Mode string

// The listener modes.
const (
	// ModeMTA takes mail from other MTAs: STARTTLS offered, no AUTH.
	ModeMTA Mode = "mta"
	// ModeSubmission takes mail from users: STARTTLS, then AUTH (RFC 6409).
	ModeSubmission Mode = "submission"
	// ModeSMTPS is submission with implicit TLS (RFC 8314 3.3).
	ModeSMTPS Mode = "smtps"
)

// Listener is one [[listener]] table.
type Listener struct {
	Name    string `toml:"name"`    // for logs and metrics; defaults to the mode (then mode-2, ...)
	Address string `toml:"address"` // "host:port"; empty host means every address
	Mode    Mode   `toml:"mode"`    // mta, submission or smtps
}

// ImplicitTLS reports whether the listener starts TLS before the banner.
func (l Listener) ImplicitTLS() bool { return l.Mode == ModeSMTPS }

// Auth reports whether the listener offers AUTH (only ever after TLS).
func (l Listener) Auth() bool { return l.Mode == ModeSubmission || l.Mode == ModeSMTPS }

// TLS is the [tls] table. Both empty means a self-signed certificate
// generated once into DataDir/tls.
type TLS struct {
	Cert string `toml:"cert"` // PEM certificate chain file
	Key  string `toml:"key"`  // PEM private key file
	// ClientCAFile holds the CAs (PEM) whose client certificates count
	// as verified: for the access map's CertIssuer:/CertSubject: relay
	// entries and TLS_Clt: VERIFY. When set, every client is asked for
	// a certificate (Srv_Features: V turns that off per client).
	ClientCAFile string `toml:"client_ca_file"`
}

// SelfSigned reports whether postern generates its own certificate.
func (t TLS) SelfSigned() bool { return t.Cert == "" && t.Key == "" }

// DNS is the [dns] table.
type DNS struct {
	Servers []string      `toml:"servers"` // "ip:port"; empty means /etc/resolv.conf
	Timeout time.Duration `toml:"timeout"` // per query
	// DNSSECTrusted lists validating resolvers (addresses or CIDR
	// prefixes), besides those on loopback, whose AD bit DANE believes.
	DNSSECTrusted []string `toml:"dnssec_trusted"`
}

// Delivery is the [delivery] table.
type Delivery struct {
	// Mailbox is the local mailbox path template with {user} (the local
	// part) and {domain}; a trailing slash means Maildir, otherwise an
	// mbox file. Load makes it absolute (relative to DataDir).
	Mailbox string `toml:"mailbox"`
	// Mode is "background" (deliver at once) or "deferred" (hold mail
	// until a queue run); see [queue].
	Mode string `toml:"mode"`

	// Delivery to other servers: smarthost, TLS policy, concurrency
	// (delivery_remote.go).
	DeliveryRemote
	// Aliases, .forward, luser_relay, genericstable and masquerading
	// (route.go).
	DeliveryRoute
}

// Limits is the [limits] table; Load fills every field.
type Limits struct {
	MaxMessageBytes     int64         `toml:"max_message_bytes"`      // SIZE limit
	MaxRecipients       int           `toml:"max_recipients"`         // RCPTs per message
	MaxErrors           int           `toml:"max_errors"`             // bad commands before 421 and close
	MaxCommandLineBytes int           `toml:"max_command_line_bytes"` // command line incl. CRLF
	CommandTimeout      time.Duration `toml:"command_timeout"`        // waiting for the next command
	DataTimeout         time.Duration `toml:"data_timeout"`           // the whole DATA/BDAT transfer
}

// Defaults of the [limits] table.
const (
	// 35 MiB, as the big providers accept.
	DefaultMaxMessageBytes = 36700160
	// RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients.
	DefaultMaxRecipients = 100
	DefaultMaxErrors     = 10
	// RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF.
	DefaultMaxCommandLineBytes = 512
	// RFC 5321 4.5.3.2.7: the server waits at least 5 minutes for a command.
	DefaultCommandTimeout = 5 * time.Minute
	// RFC 5321 4.5.3.2.6: 10 minutes for the end of DATA.
	DefaultDataTimeout = 10 * time.Minute
	// Per DNS query.
	DefaultDNSTimeout = 5 * time.Second
)

// EmbeddedName is the File name problems carry for the embedded default.
const EmbeddedName = "(embedded default)"

// Default returns the embedded configuration used without -config: safe
// and useful on a laptop, everything on loopback and under ./postern-data.
func Default() *Config {
	dataDir := "./postern-data"
	return &Config{
		Hostname:        "localhost",
		DataDir:         dataDir,
		MapsDir:         "",
		LocalDomains:    []string{"localhost"},
		RelayDomains:    nil,
		TrustedNetworks: loopbackNetworks(),
		// Only used when started as root: the laptop default then runs
		// as nobody rather than refusing to start.
		User:       "nobody",
		Postmaster: "postmaster@localhost",
		Listeners: []Listener{
			{Name: "mta", Address: "127.0.0.1:2525", Mode: ModeMTA},
			{Name: "submission", Address: "127.0.0.1:2587", Mode: ModeSubmission},
			{Name: "smtps", Address: "127.0.0.1:2465", Mode: ModeSMTPS},
		},
		DNS:          DNS{Timeout: DefaultDNSTimeout},
		Delivery:     Delivery{Mailbox: dataDir + "/mail/{domain}/{user}/", DeliveryRemote: DefaultDeliveryRemote(), DeliveryRoute: DefaultDeliveryRoute()},
		Limits:       defaultLimits(),
		Admin:        Admin{Address: DefaultAdminAddress},
		Log:          Log{Format: "text"},
		Alert:        defaultAlert(),
		SPF:          defaultSPF(),
		DKIM:         defaultDKIM(),
		DMARC:        defaultDMARC(),
		ARC:          defaultARC(),
		LDAPMaps:     defaultLDAPMaps(),
		PostgresMaps: defaultPostgresMaps(),
		Summary:      Summary{Schedule: "off"},
		// The laptop default: only the user running postern can reach
		// the data dir, so the socket lives there.
		Local:       defaultLocal(dataDir + "/submit.sock"),
		SenderLogin: defaultSenderLogin(),
		Sandbox:     defaultSandbox(),
		MTASTS:      defaultMTASTS(),

		RateLimit:     defaultRateLimit(),
		PostgresUsers: defaultPostgresUsers(),
	}
}

func defaultLimits() Limits {
	return Limits{
		MaxMessageBytes:     DefaultMaxMessageBytes,
		MaxRecipients:       DefaultMaxRecipients,
		MaxErrors:           DefaultMaxErrors,
		MaxCommandLineBytes: DefaultMaxCommandLineBytes,
		CommandTimeout:      DefaultCommandTimeout,
		DataTimeout:         DefaultDataTimeout,
	}
}

func loopbackNetworks() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// UsersFile is the file of AUTH users and mailbox owners.
func (c *Config) UsersFile() string { return filepath.Join(c.DataDir, "users") }

// TLSDir is where the self-signed certificate is generated.
func (c *Config) TLSDir() string { return filepath.Join(c.DataDir, "tls") }

// SpoolDir is the durable queue.
func (c *Config) SpoolDir() string { return filepath.Join(c.DataDir, "spool") }

// IsLocalDomain reports whether domain (already normalised) is one of
// LocalDomains. Map files add more; this looks at the config only.
func (c *Config) IsLocalDomain(domain string) bool {
	for _, d := range c.LocalDomains {
		if d == domain {
			return true
		}
	}
	return false
}

// Trusted reports whether ip is inside one of TrustedNetworks.
func (c *Config) Trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range c.TrustedNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
