package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DeliveryRemote holds the [delivery] keys of delivery to other servers.
// It is embedded in Delivery: its keys sit directly in [delivery].
type DeliveryRemote struct {
	// Smarthost receives all mail for non-local domains that the
	// mailertable does not route, as sendmail's SMART_HOST:
	// "[host]:port" ("[...]" = no MX lookup), "host", "host:port".
	// "" means MX lookup for every domain.
	Smarthost string `toml:"smarthost"`
	// SmarthostAuthFile is a file holding "username password" for AUTH
	// with the smarthost (sent only over TLS; TLS becomes required).
	SmarthostAuthFile string `toml:"smarthost_auth_file"`
	// RemotePort is the SMTP port of next hops that do not name one.
	RemotePort int `toml:"remote_port"`
	// TLSPolicy is the default STARTTLS policy: may, never, required, verify.
	TLSPolicy string `toml:"tls_policy"`
	// TLSDestinations override the policy per domain or server host.
	TLSDestinations []TLSDestination `toml:"tls_destination"`
	// TLSCAFile holds extra CA certificates (PEM) that verify servers;
	// "" means the system roots only.
	TLSCAFile string `toml:"tls_ca_file"`
	// DANE is "enforce" (the default: MX hosts with DNSSEC-validated TLSA
	// records get TLS verified against them) or "off".
	DANE string `toml:"dane"`
	// DestinationConcurrency bounds deliveries at once to one destination.
	DestinationConcurrency int `toml:"destination_concurrency"`
	// DestinationRateDelay is the least time between two deliveries to
	// one destination (one at a time while set); 0 means none.
	DestinationRateDelay Delay `toml:"destination_rate_delay"`
	// DestinationRecipientLimit is the most recipients in one transaction.
	DestinationRecipientLimit int `toml:"destination_recipient_limit"`
	// Destinations override the three per destination (delivery_pacing.go).
	Destinations []DestinationPacing `toml:"destination"`
	// ConnectTimeout bounds one TCP connection to a next hop.
	ConnectTimeout time.Duration `toml:"connect_timeout"`
	// ConnectionReuse is how many messages one connection carries at most.
	ConnectionReuse int `toml:"connection_reuse"`
	// ConnectionIdle is how long an idle connection is kept for reuse.
	ConnectionIdle time.Duration `toml:"connection_idle"`
}

// TLSDestination is one [[delivery.tls_destination]] table.
type TLSDestination struct {
	// Destination is a recipient domain ("example.com"; ".example.com"
	// for its subdomains) or a server host name ("mx.example.com").
	Destination string `toml:"destination"`
	Policy      string `toml:"policy"`
}

// Defaults of the remote delivery keys.
const (
	DefaultRemotePort = 25
	// As Postfix's default_destination_concurrency_limit.
	DefaultDestinationConcurrency = 20
	DefaultConnectTimeout         = 30 * time.Second
	DefaultConnectionReuse        = 100
	// As Postfix's smtp_connection_cache_time_limit.
	DefaultConnectionIdle = 2 * time.Second
	DefaultTLSPolicy      = "may"
	DANEEnforce           = "enforce"
	DANEOff               = "off"
)

// DefaultDeliveryRemote is the embedded and file default.
func DefaultDeliveryRemote() DeliveryRemote {
	return DeliveryRemote{
		RemotePort:                DefaultRemotePort,
		TLSPolicy:                 DefaultTLSPolicy,
		DANE:                      DANEEnforce,
		DestinationConcurrency:    DefaultDestinationConcurrency,
		DestinationRecipientLimit: DefaultDestinationRecipientLimit,
		ConnectTimeout:            DefaultConnectTimeout,
		ConnectionReuse:           DefaultConnectionReuse,
		ConnectionIdle:            DefaultConnectionIdle,
	}
}

var tlsPolicies = []string{"may", "never", "required", "verify"}

func validTLSPolicy(s string) bool {
	for _, p := range tlsPolicies {
		if s == p {
			return true
		}
	}
	return false
}

// deliveryRemote validates the keys and makes paths absolute.
func (d *decoder) deliveryRemote(r *DeliveryRemote, base string) {
	if r.Smarthost != "" {
		if err := checkSmarthost(r.Smarthost); err != nil {
			d.errorf("delivery.smarthost", "delivery.smarthost: %v", err)
		}
	}
	if r.SmarthostAuthFile != "" {
		if r.Smarthost == "" {
			d.errorf("delivery.smarthost_auth_file", "delivery.smarthost_auth_file is set but delivery.smarthost is not")
		}
		r.SmarthostAuthFile = d.dir("delivery.smarthost_auth_file", r.SmarthostAuthFile, base, false)
		if st, err := os.Stat(r.SmarthostAuthFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			d.warnf("delivery.smarthost_auth_file", "delivery.smarthost_auth_file %s is readable by others than its owner (chmod 600)", r.SmarthostAuthFile)
		}
	}
	if r.RemotePort < 1 || r.RemotePort > 65535 {
		d.errorf("delivery.remote_port", "delivery.remote_port must be from 1 to 65535")
	}
	switch r.DANE = strings.ToLower(r.DANE); r.DANE {
	case DANEEnforce, DANEOff:
	default:
		d.errorf("delivery.dane", "delivery.dane %q: want %q or %q", r.DANE, DANEEnforce, DANEOff)
	}
	r.TLSPolicy = strings.ToLower(r.TLSPolicy)
	if !validTLSPolicy(r.TLSPolicy) {
		d.errorf("delivery.tls_policy", "delivery.tls_policy %q: want may, never, required or verify", r.TLSPolicy)
	}
	seen := map[string]bool{}
	for i := range r.TLSDestinations {
		p := indexPath("delivery.tls_destination", i)
		t := &r.TLSDestinations[i]
		t.Policy = strings.ToLower(t.Policy)
		if !validTLSPolicy(t.Policy) {
			d.errorf(p+".policy", "delivery.tls_destination %d: policy %q: want may, never, required or verify", i+1, t.Policy)
		}
		name := strings.TrimPrefix(t.Destination, ".")
		n, err := NormalizeDomain(name)
		if err != nil {
			if a, aerr := netip.ParseAddr(strings.Trim(t.Destination, "[]")); aerr == nil {
				n = a.Unmap().String()
			} else {
				d.errorf(p+".destination", "delivery.tls_destination %d: destination: %v", i+1, err)
				continue
			}
		}
		if strings.HasPrefix(t.Destination, ".") {
			n = "." + n
		}
		if seen[n] {
			d.errorf(p+".destination", "delivery.tls_destination %d: %s is listed twice", i+1, n)
		}
		seen[n] = true
		t.Destination = n
	}
	if r.TLSCAFile != "" {
		r.TLSCAFile = d.dir("delivery.tls_ca_file", r.TLSCAFile, base, false)
	}
	if r.DestinationConcurrency < 1 {
		d.errorf("delivery.destination_concurrency", "delivery.destination_concurrency must be at least 1")
	}
	d.deliveryPacing(r)
	if r.ConnectionReuse < 1 {
		d.errorf("delivery.connection_reuse", "delivery.connection_reuse must be at least 1 (1 = a new connection for every message)")
	}
	if r.ConnectTimeout == 0 {
		r.ConnectTimeout = DefaultConnectTimeout
	}
	if r.ConnectionIdle == 0 {
		r.ConnectionIdle = DefaultConnectionIdle
	}
}

// checkSmarthost accepts "host", "host:port", "[host]" and "[host]:port".
func checkSmarthost(s string) error {
	if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Errorf("%q: spaces or control characters", s)
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		j := strings.IndexByte(s, ']')
		if j < 0 {
			return fmt.Errorf("%q: missing ']'", s)
		}
		host, port = s[1:j], s[j+1:]
		if port != "" {
			if port[0] != ':' {
				return fmt.Errorf("%q: want [host]:port", s)
			}
			port = port[1:]
			if port == "" {
				return fmt.Errorf("%q: missing port after ':'", s)
			}
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if port == "" {
			return fmt.Errorf("%q: missing port after ':'", s)
		}
	}
	if port != "" {
		n := 0
		for _, c := range port {
			if c < '0' || c > '9' || n > 65535 {
				return fmt.Errorf("%q: bad port %q", s, port)
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 || n > 65535 {
			return fmt.Errorf("%q: port out of range", s)
		}
	}
	if _, err := netip.ParseAddr(strings.TrimPrefix(host, "IPv6:")); err == nil {
		return nil
	}
	if _, err := NormalizeDomain(host); err != nil {
		return fmt.Errorf("%q: %v", s, err)
	}
	return nil
}

// ReadSmarthostAuth reads a smarthost credentials file: one line
// "username password" ("#" comments and blank lines skipped).
func ReadSmarthostAuth(path string) (user, password string, err error) {
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return "", "", err
	}
	return parseSmarthostAuth(path, string(b))
}

func parseSmarthostAuth(path, text string) (user, password string, err error) {
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return "", "", fmt.Errorf("%s:%d: want \"username password\"", path, n+1)
		}
		return f[0], f[1], nil
	}
	return "", "", fmt.Errorf("%s: no credentials", path)
}
