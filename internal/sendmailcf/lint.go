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
		if isPeerTag(e.Tag) {
			lintPeer(e, add)
			continue
		}
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
