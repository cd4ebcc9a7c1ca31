package config

import (
	"fmt"
	"net/netip"
	"time"

	"postern/internal/dnsbl"
)

// Checks is the [checks] table: the connection-time checks of mail from
// other servers. Zero values mean the documented defaults; ListenerChecks
// resolves them for one listener.
type Checks struct {
	// Allow lists clients (addresses or networks) that skip every check
	// here; trusted_networks always do.
	Allow       []netip.Prefix `toml:"allow"`
	DNSBL       DNSBL          `toml:"dnsbl"`
	RDNS        RDNS           `toml:"rdns"`
	EarlyTalker EarlyTalker    `toml:"early_talker"`
	Helo        Helo           `toml:"helo"`
	Greylist    Greylist       `toml:"greylist"`
	// Listener overrides the checks for one listener by name.
	Listener []CheckListener `toml:"listener"`
}

// DNSBL is the [checks.dnsbl] table.
type DNSBL struct {
	// Stage is where a listed client is refused: "rcpt" (the default:
	// 550 at each RCPT except to postmaster) or "connect" (554 instead
	// of the greeting).
	Stage string      `toml:"stage"`
	Lists []DNSBLList `toml:"list"` // [[checks.dnsbl.list]]
}

// DNSBLList is one [[checks.dnsbl.list]].
type DNSBLList struct {
	Zone  string   `toml:"zone"`  // "zen.spamhaus.org"
	Codes []string `toml:"codes"` // answers that count; empty: 127.0.0.x
	Reply string   `toml:"reply"` // text with {ip} and {zone}; "" for sendmail's
	// OnError is "ignore" (default, as sendmail's enhdnsbl without "t")
	// or "tempfail" (451, enhdnsbl's "t").
	OnError string `toml:"on_error"`
}

// RDNS is the [checks.rdns] table.
type RDNS struct {
	// Policy for clients whose reverse DNS does not confirm their address:
	// "tag" (default), "tempfail", "reject" or "off".
	Policy string `toml:"policy"`
}

// EarlyTalker is the [checks.early_talker] table.
type EarlyTalker struct {
	Pause    string        `toml:"pause"`    // greeting delay such as "1s", or "off"; default 1s
	Remember time.Duration `toml:"remember"` // a client that waited is not paused again for this long; default 24h
}

// Helo is the [checks.helo] table.
type Helo struct {
	// Level is "off", "syntax" (default), "normal" or "strict".
	Level string `toml:"level"`
}

// Greylist is the [checks.greylist] table.
type Greylist struct {
	Enabled        bool          `toml:"enabled"`
	Delay          time.Duration `toml:"delay"`            // default 5m
	RetryWindow    time.Duration `toml:"retry_window"`     // default 48h
	Expire         time.Duration `toml:"expire"`           // default 840h (35 days)
	AutoAllowAfter int           `toml:"auto_allow_after"` // default 5
}

// CheckListener is one [[checks.listener]]: the checks of one listener.
// Empty fields keep the listener's defaults.
type CheckListener struct {
	Name        string `toml:"name"`
	DNSBL       string `toml:"dnsbl"`        // "on" or "off"
	RDNS        string `toml:"rdns"`         // as checks.rdns.policy
	EarlyTalker string `toml:"early_talker"` // pause such as "2s", or "off"
	Helo        string `toml:"helo"`         // as checks.helo.level
	Greylist    string `toml:"greylist"`     // "on" or "off"
}

// Defaults of the [checks] table.
const (
	DefaultGreetPause       = time.Second
	DefaultGreetRemember    = 24 * time.Hour
	DefaultRDNSPolicy       = "tag"
	DefaultHeloLevel        = "syntax"
	DefaultGreylistDelay    = 5 * time.Minute
	DefaultGreylistRetry    = 48 * time.Hour
	DefaultGreylistExpire   = 35 * 24 * time.Hour
	DefaultGreylistAutoPass = 5
	// A longer pause makes senders with short timeouts give up.
	maxGreetPause = time.Minute
)

// ListenerChecks is what runs on one listener.
type ListenerChecks struct {
	DNSBL      bool
	RDNS       string        // off, tag, tempfail, reject
	GreetPause time.Duration // 0: none
	Helo       string        // off, syntax, normal, strict
	Greylist   bool
}

// ListenerChecks resolves the checks of listener l: MTA listeners get
// the [checks] settings, submission listeners (users, who authenticate)
// none; a [[checks.listener]] for l overrides either.
func (c *Config) ListenerChecks(l Listener) ListenerChecks {
	k := &c.Checks
	var lc ListenerChecks
	if l.Mode == ModeMTA {
		lc = ListenerChecks{
			DNSBL:      len(k.DNSBL.Lists) > 0,
			RDNS:       orDefault(k.RDNS.Policy, DefaultRDNSPolicy),
			GreetPause: greetPause(k.EarlyTalker.Pause),
			Helo:       orDefault(k.Helo.Level, DefaultHeloLevel),
			Greylist:   k.Greylist.Enabled,
		}
	} else {
		lc = ListenerChecks{RDNS: "off", Helo: "off"}
	}
	for _, o := range k.Listener {
		if o.Name != l.Name {
			continue
		}
		if o.DNSBL != "" {
			lc.DNSBL = o.DNSBL == "on"
		}
		if o.RDNS != "" {
			lc.RDNS = o.RDNS
		}
		if o.EarlyTalker != "" {
			lc.GreetPause = greetPause(o.EarlyTalker)
		}
		if o.Helo != "" {
			lc.Helo = o.Helo
		}
		if o.Greylist != "" {
			lc.Greylist = o.Greylist == "on"
		}
	}
	return lc
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// greetPause reads a validated pause setting.
func greetPause(s string) time.Duration {
	switch s {
	case "":
		return DefaultGreetPause
	case "off":
		return 0
	}
	d, _ := time.ParseDuration(s)
	return d
}

// GreetRemember is how long a client that waited is not paused again.
func (k *Checks) GreetRemember() time.Duration {
	if k.EarlyTalker.Remember == 0 {
		return DefaultGreetRemember
	}
	return k.EarlyTalker.Remember
}

// GreylistSettings returns the greylist timings with defaults filled in.
func (k *Checks) GreylistSettings() Greylist {
	g := k.Greylist
	if g.Delay == 0 {
		g.Delay = DefaultGreylistDelay
	}
	if g.RetryWindow == 0 {
		g.RetryWindow = DefaultGreylistRetry
	}
	if g.Expire == 0 {
		g.Expire = DefaultGreylistExpire
	}
	if g.AutoAllowAfter == 0 {
		g.AutoAllowAfter = DefaultGreylistAutoPass
	}
	return g
}

// checks validates [checks].
func (d *decoder) checks(c *Config) {
	k := &c.Checks
	switch k.DNSBL.Stage {
	case "", "rcpt", "connect":
	default:
		d.errorf("checks.dnsbl.stage", "checks.dnsbl.stage %q is not \"rcpt\" or \"connect\"", k.DNSBL.Stage)
	}
	zones := map[string]bool{}
	for i, l := range k.DNSBL.Lists {
		p := indexPath("checks.dnsbl.list", i)
		if l.Zone == "" {
			d.errorf(p, "checks.dnsbl.list %d: zone is missing", i+1)
		} else if err := dnsbl.CheckZone(l.Zone); err != nil {
			d.errorf(p+".zone", "checks.dnsbl.list %d: %v", i+1, err)
		} else if zones[l.Zone] {
			d.warnf(p+".zone", "checks.dnsbl.list %d: zone %s is listed twice", i+1, l.Zone)
		}
		zones[l.Zone] = true
		if _, err := dnsbl.ParseCodes(l.Codes); err != nil {
			d.errorf(p+".codes", "checks.dnsbl.list %d: %v", i+1, err)
		}
		if err := dnsbl.CheckReply(l.Reply); err != nil {
			d.errorf(p+".reply", "checks.dnsbl.list %d: %v", i+1, err)
		}
		switch l.OnError {
		case "", "ignore", "tempfail":
		default:
			d.errorf(p+".on_error", "checks.dnsbl.list %d: on_error %q is not \"ignore\" or \"tempfail\"", i+1, l.OnError)
		}
	}
	d.rdnsPolicy("checks.rdns.policy", k.RDNS.Policy)
	d.heloLevel("checks.helo.level", k.Helo.Level)
	d.greetPause("checks.early_talker.pause", k.EarlyTalker.Pause)
	g := k.GreylistSettings()
	if g.RetryWindow <= g.Delay {
		d.errorf("checks.greylist.retry_window", "checks.greylist.retry_window %s must be longer than the delay %s, or no retry can pass", g.RetryWindow, g.Delay)
	}
	if g.Delay > time.Hour {
		d.warnf("checks.greylist.delay", "checks.greylist.delay %s is long: senders retry every 15-30 minutes and mail is late by at least that much", g.Delay)
	}
	names := map[string]bool{}
	for _, l := range c.Listeners {
		names[l.Name] = true
	}
	seen := map[string]bool{}
	for i, o := range k.Listener {
		p := indexPath("checks.listener", i)
		switch {
		case o.Name == "":
			d.errorf(p, "checks.listener %d: name is missing (the name of a [[listener]])", i+1)
		case !names[o.Name]:
			d.errorf(p+".name", "checks.listener %d: there is no listener named %q", i+1, o.Name)
		case seen[o.Name]:
			d.errorf(p+".name", "checks.listener %d: listener %q has two [[checks.listener]] tables", i+1, o.Name)
		}
		seen[o.Name] = true
		d.onOff(p+".dnsbl", o.DNSBL)
		d.onOff(p+".greylist", o.Greylist)
		d.rdnsPolicy(p+".rdns", o.RDNS)
		d.heloLevel(p+".helo", o.Helo)
		d.greetPause(p+".early_talker", o.EarlyTalker)
	}
}

func (d *decoder) onOff(key, v string) {
	if v != "" && v != "on" && v != "off" {
		d.errorf(key, "%s %q is not \"on\" or \"off\"", key, v)
	}
}

func (d *decoder) rdnsPolicy(key, v string) {
	switch v {
	case "", "off", "tag", "tempfail", "reject":
	default:
		d.errorf(key, "%s %q is not \"off\", \"tag\", \"tempfail\" or \"reject\"", key, v)
	}
}

func (d *decoder) heloLevel(key, v string) {
	switch v {
	case "", "off", "syntax", "normal", "strict":
	default:
		d.errorf(key, "%s %q is not \"off\", \"syntax\", \"normal\" or \"strict\"", key, v)
	}
}

func (d *decoder) greetPause(key, v string) {
	if v == "" || v == "off" {
		return
	}
	p, err := time.ParseDuration(v)
	switch {
	case err != nil || p <= 0:
		d.errorf(key, "%s %q is not \"off\" or a duration such as \"1s\"", key, v)
	case p > maxGreetPause:
		d.errorf(key, "%s %s is longer than %s: senders give up waiting for the greeting", key, p, maxGreetPause)
	case p > 10*time.Second:
		d.warnf(key, "%s %s is long: some senders wait only 30 seconds for the greeting", key, p)
	}
}

// String names the settings for logs and `postern check`.
func (lc ListenerChecks) String() string {
	return fmt.Sprintf("dnsbl=%v rdns=%s greet_pause=%s helo=%s greylist=%v", lc.DNSBL, lc.RDNS, lc.GreetPause, lc.Helo, lc.Greylist)
}
