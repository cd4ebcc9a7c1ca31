package sendmailcf

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
)

// cfIDLine matches the version header m4 copies from each feature file.
var cfIDLine = regexp.MustCompile(`^#####\s+\$Id: ([A-Za-z0-9_]+)\.m4,v `)

// knownFeatures are the FEATURE names of sendmail 8.17's cf/feature
// directory that the linter or importer care about.
var knownFeatures = map[string]bool{
	"promiscuous_relay": true, "relay_entire_domain": true, "relay_based_on_MX": true, "relay_local_from": true,
	"relay_mail_from": true, "loose_relay_check": true, "accept_unresolvable_domains": true,
	"accept_unqualified_senders": true, "msp": true, "no_default_msa": true, "access_db": true,
	"use_cw_file": true, "use_ct_file": true, "virtusertable": true, "genericstable": true, "mailertable": true,
	"dnsbl": true, "enhdnsbl": true, "relay_hosts_only": true, "delay_checks": true, "greet_pause": true,
	"smrsh": true, "local_procmail": true, "nouucp": true, "always_add_domain": true, "masquerade_envelope": true,
	"masquerade_entire_domain": true, "allmasquerade": true, "redirect": true, "blacklist_recipients": true,
	"blocklist_recipients": true, "conncontrol": true, "ratecontrol": true,
}

// Setting is one value with the line that set it.
type Setting struct {
	Value string
	Line  int
}

// Daemon is one DAEMON_OPTIONS (or O DaemonPortOptions) entry.
type Daemon struct {
	Line int
	Raw  string
	Opts map[string]string // keys as written: Name, Port, Addr, Family, M (modifiers)
}

// Config is what the linter and importer need from sendmail.mc or
// sendmail.cf, with the .mc define names translated into the .cf option
// names (confPRIVACY_FLAGS -> PrivacyOptions) so rules apply to both.
type Config struct {
	File     string
	Kind     string             // "mc" or "cf"
	Features map[string]Setting // FEATURE name -> arguments joined by ","
	Options  map[string]Setting // option name as in sendmail.cf -> value
	Defines  map[string]Setting // every define(`x', `y') of the .mc
	Daemons  []Daemon
	Calls    []Call // every macro call of the .mc, in order
	Mailers  []Setting
	Masquerade,
	SmartHost,
	LuserRelay Setting
}

// mcOptions maps .mc define names to the .cf option they set.
var mcOptions = map[string]string{
	"confPRIVACY_FLAGS":            "PrivacyOptions",
	"confAUTH_OPTIONS":             "AuthOptions",
	"confAUTH_MECHANISMS":          "AuthMechanisms",
	"confTO_IDENT":                 "Timeout.ident",
	"confDONT_BLAME_SENDMAIL":      "DontBlameSendmail",
	"confFORWARD_PATH":             "ForwardPath",
	"confSERVER_CERT":              "ServerCertFile",
	"confSERVER_KEY":               "ServerKeyFile",
	"confCACERT":                   "CACertFile",
	"confCACERT_PATH":              "CACertPath",
	"confCLIENT_CERT":              "ClientCertFile",
	"confCLIENT_KEY":               "ClientKeyFile",
	"confMAX_MESSAGE_SIZE":         "MaxMessageSize",
	"confMAX_RCPTS_PER_MESSAGE":    "MaxRecipientsPerMessage",
	"confSMTP_LOGIN_MSG":           "SmtpGreetingMessage",
	"confDOMAIN_NAME":              "$j",
	"confCW_FILE":                  "$=w file",
	"confCR_FILE":                  "$=R file",
	"confTRUSTED_USERS":            "$=t",
	"confALIAS_FILE":               "AliasFile",
	"confDONT_PROBE_INTERFACES":    "DontProbeInterfaces",
	"confCONNECTION_RATE_THROTTLE": "ConnectionRateThrottle",
}

// ParseMC reads a sendmail.mc.
func ParseMC(file, src string) (*Config, error) {
	calls, err := ParseM4(src)
	cfg := newConfig(file, "mc")
	cfg.Calls = calls
	for _, c := range calls {
		switch c.Name {
		case "FEATURE":
			name := strings.TrimSpace(c.Arg(0))
			if name != "" {
				cfg.Features[name] = Setting{Value: strings.Join(c.Args[1:], ","), Line: c.Line}
			}
		case "define":
			name := strings.TrimSpace(c.Arg(0))
			if name == "" {
				continue
			}
			cfg.Defines[name] = Setting{Value: c.Arg(1), Line: c.Line}
			if opt, ok := mcOptions[name]; ok {
				cfg.Options[opt] = Setting{Value: c.Arg(1), Line: c.Line}
			}
			switch name {
			case "SMART_HOST":
				cfg.SmartHost = Setting{Value: c.Arg(1), Line: c.Line}
			case "LUSER_RELAY":
				cfg.LuserRelay = Setting{Value: c.Arg(1), Line: c.Line}
			}
		case "undefine":
			name := strings.TrimSpace(c.Arg(0))
			delete(cfg.Defines, name)
			if opt, ok := mcOptions[name]; ok {
				delete(cfg.Options, opt)
			}
		case "DAEMON_OPTIONS":
			cfg.Daemons = append(cfg.Daemons, parseDaemon(c.Arg(0), c.Line))
		case "MAILER":
			cfg.Mailers = append(cfg.Mailers, Setting{Value: c.Arg(0), Line: c.Line})
		case "MASQUERADE_AS":
			cfg.Masquerade = Setting{Value: c.Arg(0), Line: c.Line}
		}
	}
	return cfg, err
}

func newConfig(file, kind string) *Config {
	return &Config{File: file, Kind: kind, Features: map[string]Setting{}, Options: map[string]Setting{}, Defines: map[string]Setting{}}
}

// parseDaemon splits "Name=MTA, Port=smtp, Addr=127.0.0.1".
func parseDaemon(s string, line int) Daemon {
	d := Daemon{Line: line, Raw: s, Opts: map[string]string{}}
	for _, f := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		// sendmail accepts any prefix that is unique; normalise the
		// common one-letter forms.
		switch strings.ToLower(k) {
		case "a", "addr":
			k = "Addr"
		case "p", "port":
			k = "Port"
		case "n", "name":
			k = "Name"
		case "f", "family":
			k = "Family"
		case "m", "modifier", "modifiers":
			k = "M"
		}
		d.Opts[k] = strings.TrimSpace(v)
	}
	return d
}

// ParseCF reads a generated sendmail.cf: its O (option), D (macro) and
// comment lines. FEATUREs cannot be read back from a .cf.
func ParseCF(file, src string) (*Config, error) {
	cfg := newConfig(file, "cf")
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		// m4 copies each included file's "#####  $Id: name.m4,v ..."
		// header into the .cf, which is how FEATUREs can be read back.
		if m := cfIDLine.FindStringSubmatch(l); m != nil && knownFeatures[m[1]] {
			cfg.Features[m[1]] = Setting{Line: line}
			continue
		}
		if l == "" || l[0] == '#' {
			continue
		}
		switch l[0] {
		case 'O':
			rest := strings.TrimSpace(l[1:])
			if rest == "" || rest[0] == '#' {
				continue
			}
			k, v, ok := strings.Cut(rest, "=")
			if !ok {
				k, v = rest, ""
			}
			k = strings.TrimSpace(k)
			v = strings.TrimSpace(v)
			if k == "DaemonPortOptions" {
				cfg.Daemons = append(cfg.Daemons, parseDaemon(v, line))
				continue
			}
			cfg.Options[k] = Setting{Value: v, Line: line}
		case 'D':
			if len(l) >= 2 {
				name, val := string(l[1]), l[2:]
				if l[1] == '{' {
					if i := strings.IndexByte(l, '}'); i > 0 {
						name, val = l[2:i], l[i+1:]
					}
				}
				if name == "j" {
					cfg.Options["$j"] = Setting{Value: val, Line: line}
				}
				if name == "S" {
					cfg.SmartHost = Setting{Value: val, Line: line}
				}
				if name == "L" {
					cfg.LuserRelay = Setting{Value: val, Line: line}
				}
				if name == "M" {
					cfg.Masquerade = Setting{Value: val, Line: line}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return cfg, fmt.Errorf("%s: %w", file, err)
	}
	return cfg, nil
}

// Parse reads sendmail.mc or sendmail.cf, telling them apart by content:
// a .mc has m4 calls such as FEATURE( or OSTYPE(, a .cf has V and O lines.
func Parse(file, src string) (*Config, error) {
	if strings.HasSuffix(file, ".cf") {
		return ParseCF(file, src)
	}
	if strings.HasSuffix(file, ".mc") || strings.HasSuffix(file, ".m4") {
		return ParseMC(file, src)
	}
	for _, marker := range []string{"OSTYPE(", "FEATURE(", "MAILER(", "divert(", "define(", "DOMAIN("} {
		if strings.Contains(src, marker) {
			return ParseMC(file, src)
		}
	}
	return ParseCF(file, src)
}
