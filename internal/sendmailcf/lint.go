package sendmailcf

import (
	"fmt"
	"sort"
	"strings"
)

// Severity of a finding.
type Severity string

// Severities, worst first.
const (
	SevFail Severity = "fail"
	SevWarn Severity = "warn"
	SevInfo Severity = "info"
)

// Finding is one problem the linter found, with the line to change and
// the change to make.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"` // 0 when the problem is something missing
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s [%s] %s\n    fix: %s", f.File, f.Line, f.Severity, f.Rule, f.Message, f.Fix)
}

// Input is what the linter reads; any part may be nil.
type Input struct {
	Config       *Config
	AccessFile   string
	Access       []Entry
	RelayFile    string
	RelayDomains []Setting
}

// featureRules are the FEATUREs the hardening guides call dangerous.
var featureRules = []struct {
	feature, rule string
	sev           Severity
	msg, fix      string
}{
	{"promiscuous_relay", "promiscuous-relay", SevFail,
		"FEATURE(`promiscuous_relay') makes this an open relay: anyone may send mail through it to anywhere.",
		"Remove the line. List the domains you relay for in relay-domains (or To:domain RELAY) and your own networks as Connect:192.0.2.0/24 RELAY in access."},
	{"relay_entire_domain", "relay-entire-domain", SevWarn,
		"FEATURE(`relay_entire_domain') lets any host whose reverse DNS is in your domain relay; reverse DNS is controlled by whoever owns the address block.",
		"Remove the line and list your networks by address in access (Connect:192.0.2 RELAY)."},
	{"relay_based_on_MX", "relay-based-on-mx", SevFail,
		"FEATURE(`relay_based_on_MX') relays for any domain whose MX points at this host, and anyone can point an MX at you.",
		"Remove the line and list the domains you are backup MX for in relay-domains."},
	{"relay_local_from", "relay-local-from", SevFail,
		"FEATURE(`relay_local_from') relays when the MAIL FROM address is in a local domain; a sender address is trivially forged.",
		"Remove the line; let your users authenticate (SMTP AUTH on port 587) instead."},
	{"relay_mail_from", "relay-mail-from", SevFail,
		"FEATURE(`relay_mail_from') honours From:...RELAY access entries, so a forged sender address can relay.",
		"Remove the line and the From: RELAY entries; use SMTP AUTH for roaming users."},
	{"loose_relay_check", "loose-relay-check", SevFail,
		"FEATURE(`loose_relay_check') lets user%remote@yourdomain through the percent hack, relaying to remote.",
		"Remove the line."},
	{"accept_unresolvable_domains", "accept-unresolvable-domains", SevWarn,
		"FEATURE(`accept_unresolvable_domains') accepts senders whose domain does not exist, a common sign of spam and the source of undeliverable bounces.",
		"Remove the line (sendmail then refuses senders in domains that do not resolve)."},
	{"accept_unqualified_senders", "accept-unqualified-senders", SevWarn,
		"FEATURE(`accept_unqualified_senders') accepts MAIL FROM addresses without a domain from the network.",
		"Remove the line; local programs that submit unqualified senders go through the MSP (submit.cf), not the network."},
}

// Lint checks the input and returns the findings sorted by file and line.
func Lint(in Input) []Finding {
	var out []Finding
	if c := in.Config; c != nil {
		out = append(out, lintConfig(c)...)
	}
	out = append(out, lintAccess(in.AccessFile, in.Access, in.Config)...)
	out = append(out, lintRelayDomains(in.RelayFile, in.RelayDomains)...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

func lintConfig(c *Config) []Finding {
	var out []Finding
	add := func(line int, rule string, sev Severity, msg, fix string) {
		out = append(out, Finding{File: c.File, Line: line, Rule: rule, Severity: sev, Message: msg, Fix: fix})
	}
	// In a .cf the FEATUREs come from the m4 headers (see ParseCF).
	for _, r := range featureRules {
		if s, ok := c.Features[r.feature]; ok {
			add(s.Line, r.rule, r.sev, r.msg, c.fix(r.fix, "In the sendmail.mc this file was generated from: "+r.fix+" Then rebuild sendmail.cf."))
		}
	}
	if c.Kind == "mc" {
		if s, ok := c.Features["msp"]; ok && !strings.Contains(strings.ToLower(c.File), "submit") {
			add(s.Line, "msp-in-mta", SevWarn,
				"FEATURE(`msp') belongs in submit.mc (the local mail submission program); in the MTA's configuration it disables the daemon's relay checks for its configured host.",
				"Remove FEATURE(`msp') from sendmail.mc; keep it in submit.mc only.")
		}
	} else if len(c.Features) == 0 {
		add(0, "cf-features-unreadable", SevInfo,
			"This sendmail.cf has no m4 file headers (\"#####  $Id: feature.m4\"), so the FEATUREs it was built from (promiscuous_relay, relay_based_on_MX ...) cannot be read back from it.",
			"Lint the sendmail.mc it was generated from as well.")
	}

	// AUTH without "p" in AuthOptions allows plaintext mechanisms over
	// an unencrypted connection.
	authOn := c.Options["AuthMechanisms"].Value != ""
	for _, call := range c.Calls {
		if call.Name == "TRUST_AUTH_MECH" {
			authOn = true
		}
	}
	if authOn {
		ao, ok := c.Options["AuthOptions"]
		if !hasFlag(ao.Value, "p") {
			line := ao.Line
			if !ok {
				line = c.Options["AuthMechanisms"].Line
			}
			add(line, "auth-plaintext", SevFail,
				"SMTP AUTH is enabled but AuthOptions lacks the p flag, so PLAIN and LOGIN are offered on unencrypted connections and passwords travel in clear.",
				c.fix("define(`confAUTH_OPTIONS', `A p y')dnl (p: no plaintext mechanisms without TLS).", "O AuthOptions=A,p,y (p: no plaintext mechanisms without TLS), and make the same change in sendmail.mc."))
		}
	}
	if s, ok := c.Options["DontBlameSendmail"]; ok && !strings.EqualFold(strings.TrimSpace(s.Value), "safe") && strings.TrimSpace(s.Value) != "" {
		add(s.Line, "dont-blame-sendmail", SevWarn,
			"DontBlameSendmail ("+s.Value+") turns off sendmail's file permission checks, so group- or world-writable files can change how mail is delivered.",
			"Fix the file permissions instead and remove confDONT_BLAME_SENDMAIL (or set it to `safe').")
	}
	if s, ok := c.Options["Timeout.ident"]; !ok {
		add(0, "ident-lookups", SevWarn,
			"confTO_IDENT is not set: sendmail makes an IDENT (RFC 1413) query back to every client, which leaks nothing useful, delays every connection and is blocked by most firewalls.",
			c.fix("define(`confTO_IDENT', `0')dnl", "O Timeout.ident=0"))
	} else if v := strings.TrimSpace(s.Value); v != "0" && v != "0s" {
		add(s.Line, "ident-lookups", SevWarn,
			"confTO_IDENT is "+v+": sendmail makes an IDENT query back to every client.",
			c.fix("define(`confTO_IDENT', `0')dnl", "O Timeout.ident=0"))
	}
	po, ok := c.Options["PrivacyOptions"]
	if !ok {
		add(0, "privacy-options", SevWarn,
			"PrivacyOptions is not set (default authwarnings only): EXPN and VRFY reveal your users and lists.",
			c.fix("define(`confPRIVACY_FLAGS', `goaway,restrictqrun,restrictmailq')dnl", "O PrivacyOptions=goaway,restrictqrun,restrictmailq"))
	} else if !hasFlag(po.Value, "goaway") {
		var missing []string
		for _, f := range []string{"noexpn", "novrfy"} {
			if !hasFlag(po.Value, f) {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			add(po.Line, "privacy-options", SevWarn,
				"PrivacyOptions lacks "+strings.Join(missing, " and ")+" (and goaway): "+"EXPN/VRFY reveal your users and lists.",
				c.fix("Add goaway (or at least noexpn,novrfy) to confPRIVACY_FLAGS.", "Add goaway (or at least noexpn,novrfy) to O PrivacyOptions."))
		}
	}
	if s, ok := c.Options["ForwardPath"]; !ok {
		add(0, "forward-path", SevWarn,
			"confFORWARD_PATH is not set, so users' ~/.forward files are honoured: any user can make sendmail run programs or write files as them on mail arrival.",
			c.fix("define(`confFORWARD_PATH', `')dnl to disable .forward, or point it at files only root can write.", "O ForwardPath= (empty) to disable .forward."))
	} else if strings.TrimSpace(s.Value) != "" {
		add(s.Line, "forward-path", SevWarn,
			"ForwardPath is "+s.Value+": users' .forward files are honoured and can run programs on mail arrival.",
			c.fix("define(`confFORWARD_PATH', `')dnl unless you need .forward files.", "O ForwardPath= (empty) unless you need .forward files."))
	}
	cert, hasCert := c.Options["ServerCertFile"]
	key, hasKey := c.Options["ServerKeyFile"]
	if !hasCert || !hasKey || strings.TrimSpace(cert.Value) == "" || strings.TrimSpace(key.Value) == "" {
		line := cert.Line
		if line == 0 {
			line = key.Line
		}
		add(line, "no-starttls-cert", SevWarn,
			"No STARTTLS certificate (confSERVER_CERT and confSERVER_KEY): mail to and from this server travels in clear text.",
			"define(`confSERVER_CERT', `/etc/mail/tls/server.crt')dnl and define(`confSERVER_KEY', `/etc/mail/tls/server.key')dnl (plus confCACERT for the chain).")
	}
	if s, ok := c.Options["SmtpGreetingMessage"]; ok && (strings.Contains(s.Value, "$v") || strings.Contains(s.Value, "$Z")) {
		add(s.Line, "banner-version", SevWarn,
			"The SMTP greeting includes $v/$Z, the sendmail version, which tells attackers what to try.",
			c.fix("define(`confSMTP_LOGIN_MSG', `$j')dnl", "O SmtpGreetingMessage=$j"))
	}

	// Daemons: sendmail adds an MSA on port 587 on every address unless
	// FEATURE(`no_default_msa') is given.
	_, noDefaultMSA := c.Features["no_default_msa"]
	if c.Kind == "mc" && !noDefaultMSA && len(c.Daemons) > 0 {
		add(0, "default-msa", SevWarn,
			"Without FEATURE(`no_default_msa') sendmail also listens for submission on port 587 on every address, whatever the DAEMON_OPTIONS say.",
			"Add FEATURE(`no_default_msa')dnl and declare the MSA yourself, e.g. DAEMON_OPTIONS(`Port=submission, Name=MSA, M=Ea, Addr=127.0.0.1')dnl.")
	}
	for _, d := range c.Daemons {
		if !isMSA(d) {
			continue
		}
		addr := d.Opts["Addr"]
		allAddrs := addr == "" || addr == "0.0.0.0" || addr == "::" || addr == "INADDR_ANY"
		// M=a requires AUTH on the daemon: a network MSA that every
		// client must log in to is what the checklists recommend.
		if allAddrs && !strings.ContainsRune(d.Opts["M"], 'a') {
			add(d.Line, "msa-all-addresses", SevWarn,
				"The submission daemon ("+d.Raw+") listens on every address without requiring AUTH (no a in M=): any network client may submit through it.",
				"Require AUTH for network users with M=Ea in this DAEMON_OPTIONS (and AUTH_OPTIONS with the p flag), or add Addr=127.0.0.1 if only local clients submit.")
		}
	}
	return out
}

func isMSA(d Daemon) bool {
	p := strings.ToLower(d.Opts["Port"])
	n := strings.ToUpper(d.Opts["Name"])
	return p == "submission" || p == "587" || strings.Contains(n, "MSA") || strings.Contains(n, "MSP")
}

// hasFlag reports whether a comma/space separated option list holds f.
func hasFlag(list, f string) bool {
	for _, x := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

func lintAccess(file string, entries []Entry, c *Config) []Finding {
	var out []Finding
	add := func(e Entry, rule string, sev Severity, msg, fix string) {
		out = append(out, Finding{File: file, Line: e.Line, Rule: rule, Severity: sev, Message: msg, Fix: fix})
	}
	for _, e := range entries {
		if !strings.EqualFold(strings.Fields(e.Value + " x")[0], "RELAY") {
			continue
		}
		switch e.Tag {
		case "From":
			add(e, "access-from-relay", SevFail,
				"From:"+e.Key+" RELAY relays mail because of the claimed sender address, which anyone can forge (with FEATURE(`relay_mail_from'); without it the entry is ignored).",
				"Delete the entry; let those users authenticate with SMTP AUTH.")
			continue
		case "To":
			continue // relaying to a domain (backup MX) is the normal use
		case "Connect", "":
		default:
			continue
		}
		if e.Tag == "" && strings.Contains(e.Key, "@") {
			add(e, "access-from-relay", SevFail,
				"Untagged address "+e.Key+" RELAY also applies to the sender address, which anyone can forge.",
				"Write it as To:"+e.Key+" RELAY if you meant the recipient, else delete it.")
			continue
		}
		isAddr, bits := NetworkKey(e.Key)
		if isAddr {
			failBelow, warnBelow := 16, 24
			if strings.Contains(e.Key, ":") {
				failBelow, warnBelow = 32, 48
			}
			switch {
			case bits < failBelow:
				add(e, "access-relay-broad-network", SevFail,
					fmt.Sprintf("%s RELAY lets a whole /%d network relay; at that size it includes hosts you do not run.", e.Key, bits),
					"Narrow it to the networks of your own hosts (e.g. Connect:192.0.2.0/24 RELAY).")
			case bits < warnBelow:
				add(e, "access-relay-broad-network", SevWarn,
					fmt.Sprintf("%s RELAY lets a whole /%d network relay; check every host in it is yours and trusted.", e.Key, bits),
					"Narrow it to the hosts that send through this server.")
			}
			continue
		}
		tag := e.Tag
		if tag == "" {
			tag = "untagged"
		}
		add(e, "access-relay-hostname", SevWarn,
			"Host name "+e.Key+" ("+tag+") RELAY is matched against the client's reverse DNS, which the owner of any address block can set.",
			"Use the hosts' addresses instead (Connect:192.0.2.10 RELAY); keep To:"+e.Key+" RELAY if you relay mail addressed to that domain.")
	}
	return out
}

func lintRelayDomains(file string, list []Setting) []Finding {
	var out []Finding
	for _, s := range list {
		if isAddr, bits := NetworkKey(s.Value); isAddr {
			sev := SevWarn
			if bits < 16 {
				sev = SevFail
			}
			out = append(out, Finding{File: file, Line: s.Line, Rule: "relay-domains-network", Severity: sev,
				Message: fmt.Sprintf("relay-domains entry %s is a network (/%d): every host in it may relay.", s.Value, bits),
				Fix:     "Move networks to access as Connect:ADDRESS RELAY, limited to your own hosts."})
			continue
		}
		out = append(out, Finding{File: file, Line: s.Line, Rule: "relay-domains-hostname", Severity: SevInfo,
			Message: "relay-domains entry " + s.Value + " also lets clients whose reverse DNS ends in " + s.Value + " relay to anywhere, not only mail addressed to " + s.Value + ".",
			Fix:     "If you only need to accept mail for " + s.Value + " (backup MX), use To:" + s.Value + " RELAY in access instead."})
	}
	return out
}

// fix picks the fix text written for the kind of file being linted.
func (c *Config) fix(mc, cf string) string {
	if c.Kind == "cf" {
		return cf
	}
	return mc
}
