package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// complete fills derived defaults, normalises names, makes paths absolute
// (relative paths count from base: the config file's directory, or the
// working directory for the embedded default) and validates everything.
func (d *decoder) complete(c *Config, base string) {
	d.hostname(c)
	c.DataDir = d.dir("data_dir", c.DataDir, base, true)
	if c.MapsDir != "" {
		c.MapsDir = d.dir("maps_dir", c.MapsDir, base, false)
	}
	c.LocalDomains = d.domains("local_domains", c.LocalDomains)
	c.RelayDomains = d.domains("relay_domains", c.RelayDomains)
	if c.File != "" && !d.defined["local_domains"] && c.Hostname != "" {
		c.LocalDomains = []string{c.Hostname}
	}
	d.overlap(c)
	d.trusted(c)
	d.user(c)
	d.postmaster(c)
	d.listeners(c)
	d.tls(c, base)
	d.dns(c)
	d.delivery(c)
	d.deliveryRemote(&c.Delivery.DeliveryRemote, base)
	d.deliveryRoute(c)
	d.limits(c)
	d.ratelimit(c)
	d.milters(c)
	d.operator(c)
	d.mailauth(c)
	d.checks(c)
	d.local(c, base)
	d.senderLogin(c)
	d.sandbox(c, base)
	d.queue(c)
	d.mtaSTS(c)
	d.srs(c)
	d.tlsrpt(c)
	d.arc(c)
	d.ldapMaps(c)
	d.postgresMaps(c)
	d.postgresUsers(c)
	d.summary(c)
	d.backupMX(c)
}

func (d *decoder) hostname(c *Config) {
	h, err := NormalizeDomain(c.Hostname)
	if err != nil {
		d.errorf("hostname", "hostname: %v", err)
		return
	}
	c.Hostname = h
	if !strings.Contains(h, ".") && h != "localhost" {
		d.warnf("hostname", "hostname %q is not fully qualified; other MTAs may refuse its HELO (set hostname)", h)
	}
}

func (d *decoder) dir(key, p, base string, required bool) string {
	if p == "" {
		if required {
			d.errorf(key, "%s must not be empty", key)
		}
		return p
	}
	if strings.ContainsRune(p, 0) {
		d.errorf(key, "%s contains a NUL byte", key)
		return p
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p)
}

func (d *decoder) domains(key string, in []string) []string {
	var out []string
	seen := map[string]bool{}
	for i, s := range in {
		p := indexPath(key, i)
		n, err := NormalizeDomain(s)
		if err != nil {
			d.errorf(p, "%s: %v", key, err)
			continue
		}
		if seen[n] {
			d.warnf(p, "%s: %s is listed twice", key, n)
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

func (d *decoder) overlap(c *Config) {
	for i, r := range c.RelayDomains {
		if c.IsLocalDomain(r) {
			d.errorf(indexPath("relay_domains", i), "relay_domains: %s is also in local_domains; a domain is either delivered here or relayed", r)
		}
	}
}

// Trusted networks wider than these get a warning.
const (
	wideV4Bits = 24
	wideV6Bits = 48
)

func (d *decoder) trusted(c *Config) {
	for i, p := range c.TrustedNetworks {
		path := indexPath("trusted_networks", i)
		switch {
		case p.Addr().IsLoopback():
		case p.Bits() == 0:
			d.warnf(path, "trusted_networks: %s makes postern an open relay for the whole internet", p)
		case p.Addr().Is4() && p.Bits() < wideV4Bits, p.Addr().Is6() && p.Bits() < wideV6Bits:
			d.warnf(path, "trusted_networks: %s is wider than a /%d: every host in it may relay without AUTH (an open relay for that network)",
				p, map[bool]int{true: wideV4Bits, false: wideV6Bits}[p.Addr().Is4()])
		}
	}
}

func (d *decoder) user(c *Config) {
	if c.User == "" {
		if os.Geteuid() == 0 {
			d.warnf("user", "user is empty and postern runs as root: serve refuses to run as root (set user)")
		}
		return
	}
	u, err := user.Lookup(c.User)
	if err != nil {
		d.errorf("user", "user %q: no such user on this system", c.User)
		return
	}
	if u.Uid == "0" {
		d.errorf("user", "user %q has uid 0: postern must not keep root privileges", c.User)
	}
}

func (d *decoder) postmaster(c *Config) {
	if !d.defined["postmaster"] && c.Postmaster == "" {
		dom := c.Hostname
		if len(c.LocalDomains) > 0 {
			dom = c.LocalDomains[0]
		}
		c.Postmaster = "postmaster@" + dom
		return
	}
	at := strings.LastIndexByte(c.Postmaster, '@')
	if at <= 0 {
		d.errorf("postmaster", "postmaster %q is not an address (local@domain)", c.Postmaster)
		return
	}
	local := c.Postmaster[:at]
	if strings.ContainsAny(local, " \t\r\n<>") {
		d.errorf("postmaster", "postmaster %q has spaces or brackets in its local part", c.Postmaster)
		return
	}
	dom, err := NormalizeDomain(c.Postmaster[at+1:])
	if err != nil {
		d.errorf("postmaster", "postmaster: %v", err)
		return
	}
	c.Postmaster = local + "@" + dom
}

// standardPorts maps the registered ports to their mode.
var standardPorts = map[string]Mode{
	"25":  ModeMTA,        // RFC 5321
	"587": ModeSubmission, // RFC 6409
	"465": ModeSMTPS,      // RFC 8314 7.3
}

func (d *decoder) listeners(c *Config) {
	if c.File != "" && !d.defined["listener"] {
		c.Listeners = defaultListeners()
	}
	if len(c.Listeners) == 0 {
		d.errorf("listener", "no [[listener]]: postern would accept no mail")
		return
	}
	names := map[string]bool{}
	for _, l := range c.Listeners {
		if l.Name != "" {
			names[l.Name] = true
		}
	}
	explicit := map[string]bool{}
	addrs := map[string]string{}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		p := indexPath("listener", i)
		switch l.Mode {
		case ModeMTA, ModeSubmission, ModeSMTPS:
		case "":
			d.errorf(p+".mode", "listener %d: mode is missing (mta, submission or smtps)", i+1)
		default:
			d.errorf(p+".mode", "listener %d: mode %q is not mta, submission or smtps", i+1, l.Mode)
		}
		if l.Name != "" {
			if explicit[l.Name] {
				d.errorf(p+".name", "listener %d: name %q is used twice", i+1, l.Name)
			}
			explicit[l.Name] = true
		} else if l.Mode != "" {
			l.Name = string(l.Mode)
			for n := 2; names[l.Name]; n++ {
				l.Name = fmt.Sprintf("%s-%d", l.Mode, n)
			}
			names[l.Name] = true
		}
		if l.Address == "" {
			d.errorf(p, "listener %d: address is missing (host:port)", i+1)
			continue
		}
		host, port, err := net.SplitHostPort(l.Address)
		if err != nil {
			d.errorf(p+".address", "listener %d: address %q is not host:port", i+1, l.Address)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			d.errorf(p+".address", "listener %d: port %q is not a number from 1 to 65535", i+1, port)
			continue
		}
		var ip netip.Addr
		if host != "" && host != "localhost" {
			ip, err = netip.ParseAddr(host)
			if err != nil {
				d.errorf(p+".address", "listener %d: %q is not an IP address (use an address, \"localhost\" or nothing for all)", i+1, host)
				continue
			}
			l.Address = net.JoinHostPort(ip.String(), port)
		}
		key := l.Address
		if prev, ok := addrs[key]; ok {
			d.errorf(p+".address", "listener %d: address %s is already used by listener %s", i+1, l.Address, prev)
		}
		addrs[key] = l.Name
		if want, ok := standardPorts[port]; ok && l.Mode != "" && want != l.Mode {
			d.warnf(p+".mode", "listener %d: port %s is the %s port, but mode is %s", i+1, port, want, l.Mode)
		}
		public := host == "" || ip.IsValid() && !ip.IsLoopback()
		if public && l.Auth() && c.TLS.SelfSigned() {
			d.warnf(p, "listener %d: %s on a public address with a self-signed certificate: mail clients will warn or refuse (set [tls] cert and key)", i+1, l.Mode)
		}
	}
}

func (d *decoder) tls(c *Config, base string) {
	switch {
	case c.TLS.Cert == "" && c.TLS.Key != "":
		d.errorf("tls.key", "tls: key is set but cert is not; set both or neither")
	case c.TLS.Cert != "" && c.TLS.Key == "":
		d.errorf("tls.cert", "tls: cert is set but key is not; set both or neither")
	}
	if c.TLS.Cert != "" {
		c.TLS.Cert = d.dir("tls.cert", c.TLS.Cert, base, false)
	}
	if c.TLS.Key != "" {
		c.TLS.Key = d.dir("tls.key", c.TLS.Key, base, false)
	}
	if c.TLS.ClientCAFile != "" {
		c.TLS.ClientCAFile = d.dir("tls.client_ca_file", c.TLS.ClientCAFile, base, false)
	}
}

func (d *decoder) dns(c *Config) {
	for i, s := range c.DNS.Servers {
		p := indexPath("dns.servers", i)
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			// A bare address means port 53.
			host, port = strings.Trim(s, "[]"), "53"
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || ip.Zone() != "" {
			d.errorf(p, "dns.servers: %q is not an IP address with an optional port (such as 127.0.0.1:53)", s)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			d.errorf(p, "dns.servers: %q has a bad port", s)
			continue
		}
		c.DNS.Servers[i] = net.JoinHostPort(ip.Unmap().String(), port)
	}
	if c.DNS.Timeout == 0 {
		c.DNS.Timeout = DefaultDNSTimeout
	}
	for i, s := range c.DNS.DNSSECTrusted {
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" {
			d.errorf(indexPath("dns.dnssec_trusted", i), "dns.dnssec_trusted: %q is not an IP address or a CIDR prefix", s)
		}
	}
}

func (d *decoder) delivery(c *Config) {
	m := c.Delivery.Mailbox
	if m == "" {
		d.errorf("delivery.mailbox", "delivery.mailbox must not be empty")
		return
	}
	rest := m
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			d.errorf("delivery.mailbox", "delivery.mailbox: unclosed { in %q", m)
			return
		}
		switch ph := rest[i : i+j+1]; ph {
		case "{user}", "{domain}":
		default:
			d.errorf("delivery.mailbox", "delivery.mailbox: unknown placeholder %s (use {user} and {domain})", ph)
			return
		}
		rest = rest[i+j+1:]
	}
	if !strings.Contains(m, "{user}") {
		d.warnf("delivery.mailbox", "delivery.mailbox has no {user}: every local user shares one mailbox")
	}
	dir := strings.HasSuffix(m, "/")
	if !filepath.IsAbs(m) {
		m = filepath.Join(c.DataDir, m)
	}
	m = filepath.Clean(m)
	if dir {
		m += "/"
	}
	c.Delivery.Mailbox = m
}

func (d *decoder) limits(c *Config) {
	l := &c.Limits
	// RFC 5321 4.5.3.1.7: the maximum message size is at least 64K octets.
	if l.MaxMessageBytes < 65536 {
		d.errorf("limits.max_message_bytes", "limits.max_message_bytes must be at least 65536 (RFC 5321 4.5.3.1.7)")
	}
	if l.MaxRecipients < 1 {
		d.errorf("limits.max_recipients", "limits.max_recipients must be at least 1")
	} else if l.MaxRecipients < DefaultMaxRecipients {
		// RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients.
		d.warnf("limits.max_recipients", "limits.max_recipients %d is below the 100 that RFC 5321 4.5.3.1.8 requires; senders may fail", l.MaxRecipients)
	}
	if l.MaxErrors < 1 {
		d.errorf("limits.max_errors", "limits.max_errors must be at least 1")
	}
	// RFC 5321 4.5.3.1.4: command lines up to 512 octets must be accepted.
	if l.MaxCommandLineBytes < DefaultMaxCommandLineBytes {
		d.errorf("limits.max_command_line_bytes", "limits.max_command_line_bytes must be at least 512 (RFC 5321 4.5.3.1.4)")
	}
	// RFC 5321 4.5.3.1.6: text lines up to 1000 octets must be accepted.
	// RFC 5321 4.5.3.2.7: wait at least 5 minutes for the next command.
	if l.CommandTimeout < DefaultCommandTimeout {
		d.warnf("limits.command_timeout", "limits.command_timeout %s is below the 5m of RFC 5321 4.5.3.2.7; slow senders may be cut off", l.CommandTimeout)
	}
	// RFC 5321 4.5.3.2.5: a sender may wait 3 minutes between data blocks.
	if l.DataTimeout < 3*time.Minute {
		d.warnf("limits.data_timeout", "limits.data_timeout %s is below 3m (RFC 5321 4.5.3.2.5); large messages may be cut off", l.DataTimeout)
	}
}
