// Package auditflags is the command line of postern audit: its flags, the
// defaults a postern configuration gives them, and the audit.Options they
// make. The command only reads the config and runs the audit.
package auditflags

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"postern/internal/audit"
	pdns "postern/internal/dns"
)

// Flags are the flags of postern audit.
type Flags struct {
	FS                                               *flag.FlagSet
	configPath, domain, from, dnsServer, relayDomain *string
	tlsName, caFile, selectors, dnsbls, smugRcpt     *string
	submission                                       *int
	jsonOut, remote, smuggling, verbose              *bool
	timeout                                          *time.Duration
	set                                              map[string]bool // the flags given
}

// New makes the flag set of postern audit.
func New() *Flags {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern audit HOST[:PORT] [-domain D] [-submission PORT] [-json] [-from IP] [flags]\n       postern audit -config FILE [flags]   (audit this postern's own mta listener)")
		fs.PrintDefaults()
	}
	return &Flags{
		FS:          fs,
		configPath:  fs.String("config", "", "postern config: audit its own mta listener, with its first local domain, DNS servers and host name as defaults"),
		domain:      fs.String("domain", "", "mail domain whose DNS records (MX, SPF, DKIM, DMARC, MTA-STS, TLSRPT) are checked"),
		submission:  fs.Int("submission", 587, "submission port to check for STARTTLS and AUTH (0 to skip)"),
		jsonOut:     fs.Bool("json", false, "print the report as JSON"),
		from:        fs.String("from", "", "source IP for our connections (pick one the server does not trust, or relay probes prove nothing)"),
		dnsServer:   fs.String("dns", "", "DNS server HOST:PORT for the DNS checks (default: /etc/resolv.conf)"),
		relayDomain: fs.String("relay-test-domain", "relay-test.invalid", "foreign recipient domain of the relay probes (must not be local to the target)"),
		remote:      fs.Bool("allow-remote", false, "allow a target outside 127.0.0.0/8 and ::1 (a real network audit)"),
		tlsName:     fs.String("tls-name", "", "name the certificate must be valid for (default: the banner's host name)"),
		caFile:      fs.String("ca", "", "PEM file of CA certificates to trust instead of the system roots"),
		selectors:   fs.String("dkim-selector", "", "comma-separated DKIM selectors to check"),
		dnsbls:      fs.String("dnsbl", "zen.spamhaus.org,bl.spamcop.net", "comma-separated DNSBL zones to look the server's address up in (\"\" for none; by default none for a loopback target)"),
		smuggling:   fs.Bool("smuggling", false, "probe SMTP smuggling (sends real messages to -smuggling-rcpt)"),
		smugRcpt:    fs.String("smuggling-rcpt", "", "local recipient for the smuggling probe messages"),
		timeout:     fs.Duration("timeout", 20*time.Second, "timeout for each network step"),
		verbose:     fs.Bool("v", false, "show evidence of passed checks too"),
		set:         map[string]bool{},
	}
}

// Parsed records which flags were given; call it after parsing FS.
func (f *Flags) Parsed() { f.FS.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true }) }

// ConfigPath is -config: "" when the audit is of another server.
func (f *Flags) ConfigPath() string { return *f.configPath }

// JSON is -json; Verbose is -v.
func (f *Flags) JSON() bool    { return *f.jsonOut }
func (f *Flags) Verbose() bool { return *f.verbose }

// Server is what a postern configuration says about itself: the
// addresses of its mta and submission listeners, its local domains,
// its DNS servers and its host name.
type Server struct {
	MTA, Submission []string
	LocalDomains    []string
	DNSServers      []string
	Hostname        string
}

// Own takes the defaults of the flags not given from the server's own
// configuration, and returns the positional arguments with its mta
// listener as the target when none was given.
func (f *Flags) Own(s Server, pos []string) []string {
	own := audit.OwnServer(s.MTA, s.Submission, s.LocalDomains)
	if len(pos) == 0 && own.Target != "" {
		pos = []string{own.Target}
	}
	if !f.set["submission"] && own.Submission >= 0 {
		*f.submission = own.Submission
	}
	if !f.set["domain"] {
		*f.domain = own.Domain
	}
	if !f.set["dns"] && len(s.DNSServers) > 0 {
		*f.dnsServer = s.DNSServers[0]
	}
	if !f.set["tls-name"] {
		*f.tlsName = s.Hostname
	}
	return pos
}

// Options turns the flags into the audit's options; problems are
// written to errw, and ok is false.
func (f *Flags) Options(target string, errw io.Writer) (opt audit.Options, ok bool) {
	opt = audit.Options{
		Target:          target,
		SubmissionPort:  *f.submission,
		Domain:          *f.domain,
		RelayTestDomain: *f.relayDomain,
		AllowRemote:     *f.remote,
		TLSName:         *f.tlsName,
		DKIMSelectors:   List(*f.selectors),
		DNSBLs:          List(*f.dnsbls),
		Smuggling:       *f.smuggling,
		SmugglingRcpt:   *f.smugRcpt,
		Timeout:         *f.timeout,
	}
	if !f.set["dnsbl"] && audit.LoopbackTarget(opt.Target) {
		opt.DNSBLs = nil
	}
	if *f.smuggling && *f.smugRcpt == "" {
		fmt.Fprintln(errw, "postern audit: -smuggling needs -smuggling-rcpt ADDRESS (a local mailbox that may receive test messages)")
		return opt, false
	}
	if *f.from != "" {
		if opt.From = net.ParseIP(*f.from); opt.From == nil {
			fmt.Fprintf(errw, "postern audit: -from %q is not an IP address\n", *f.from)
			return opt, false
		}
	}
	if *f.caFile != "" {
		var err error
		if opt.RootCAs, err = audit.ReadRootCAs(*f.caFile); err != nil {
			fmt.Fprintf(errw, "postern audit: %v\n", err)
			return opt, false
		}
	}
	var servers []string
	if *f.dnsServer != "" {
		servers = []string{*f.dnsServer}
	}
	opt.Resolver = pdns.New(pdns.Options{Servers: servers})
	return opt, true
}

// List splits a comma-separated flag value, dropping empty items.
func List(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
