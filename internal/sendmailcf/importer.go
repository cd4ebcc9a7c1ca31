package sendmailcf

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ImportOptions say where the sendmail setup is and what the postern
// config should point at.
type ImportOptions struct {
	Dir         string // sendmail's directory, usually /etc/mail
	AliasesFile string // "" means Dir/aliases when it exists
	Hostname    string // used when sendmail.mc does not set confDOMAIN_NAME
	DataDir     string // data_dir of the new config; "" means /var/lib/postern
	MapsDir     string // maps_dir of the new config (where Maps will be written)
	User        string // user to drop to when started as root; "" leaves it unset
}

// Note is one remark of the import, tied to a source line when it has one.
type Note struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Text string `json:"text"`
}

func (n Note) String() string {
	if n.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Text)
	}
	if n.File != "" {
		return n.File + ": " + n.Text
	}
	return n.Text
}

// Imported is the result: a config file, the maps for maps_dir, notes on
// every entry whose meaning changed, and everything that could not be
// carried over.
type Imported struct {
	Config     string            // postern TOML
	Maps       map[string]string // file name in maps_dir -> content
	Changed    []Note            // carried over, but means something different now
	NotCarried []Note            // left out; the admin must act
}

type listener struct {
	address, mode string
	line          int
	source        string
}

// Import reads the sendmail setup in opt.Dir.
func Import(opt ImportOptions) (*Imported, error) {
	if opt.DataDir == "" {
		opt.DataDir = "/var/lib/postern"
	}
	if opt.MapsDir == "" {
		opt.MapsDir = "/etc/postern"
	}
	im := &Imported{Maps: map[string]string{}}
	read := func(name string) (string, bool, error) {
		b, err := os.ReadFile(filepath.Join(opt.Dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		return string(b), true, nil
	}

	// sendmail.mc is the source of truth; sendmail.cf only when no .mc.
	var cfg *Config
	for _, name := range []string{"sendmail.mc", "sendmail.cf"} {
		src, ok, err := read(name)
		if err != nil {
			return nil, err
		}
		if ok {
			cfg, err = Parse(name, src)
			if err != nil {
				im.NotCarried = append(im.NotCarried, Note{File: name, Text: "could not be read completely: " + err.Error()})
			}
			break
		}
	}
	if cfg == nil {
		return nil, fmt.Errorf("%s: neither sendmail.mc nor sendmail.cf found", opt.Dir)
	}

	hostname := opt.Hostname
	if j := cfg.Options["$j"]; j.Value != "" && !strings.Contains(j.Value, "$") {
		hostname = j.Value
	}

	var localDomains, relayDomains []string
	// sendmail lets the host itself relay (its own addresses), not the
	// whole loopback network.
	trusted := []string{"127.0.0.1/32", "::1/128"}
	if src, ok, err := read("local-host-names"); err != nil {
		return nil, err
	} else if ok {
		for _, s := range ReadList(src) {
			v := strings.Trim(s.Value, "[]")
			if ip := net.ParseIP(v); ip != nil {
				im.NotCarried = append(im.NotCarried, Note{File: "local-host-names", Line: s.Line,
					Text: "address " + s.Value + " is not a domain; postern treats mail to its own listening addresses' literals as local by itself"})
				continue
			}
			localDomains = appendUnique(localDomains, strings.ToLower(strings.TrimSuffix(s.Value, ".")))
		}
	}
	if src, ok, err := read("relay-domains"); err != nil {
		return nil, err
	} else if ok {
		for _, s := range ReadList(src) {
			if isAddr, bits := NetworkKey(s.Value); isAddr {
				cidr, err := toCIDR(s.Value)
				if err != nil {
					im.NotCarried = append(im.NotCarried, Note{File: "relay-domains", Line: s.Line, Text: s.Value + ": " + err.Error()})
					continue
				}
				trusted = appendUnique(trusted, cidr)
				im.Changed = append(im.Changed, Note{File: "relay-domains", Line: s.Line,
					Text: fmt.Sprintf("network %s (/%d) moved to trusted_networks as %s: its hosts may relay without AUTH", s.Value, bits, cidr)})
				continue
			}
			relayDomains = appendUnique(relayDomains, strings.ToLower(s.Value))
			im.Changed = append(im.Changed, Note{File: "relay-domains", Line: s.Line,
				Text: "domain " + s.Value + ": postern accepts and forwards mail addressed to it; unlike sendmail, hosts whose reverse DNS is in " + s.Value + " may no longer relay (list their addresses in trusted_networks)"})
		}
	}

	// Maps.
	if src, ok, err := read("access"); err != nil {
		return nil, err
	} else if ok {
		im.Maps["access"] = convertAccess(src, im)
	} else if _, err := os.Stat(filepath.Join(opt.Dir, "access.db")); err == nil {
		im.NotCarried = append(im.NotCarried, Note{File: "access.db", Text: "only the hashed map was found; postern reads text maps: recreate the text with makemap -u hash access > access and import again"})
	}
	aliases := opt.AliasesFile
	if aliases == "" {
		aliases = filepath.Join(opt.Dir, "aliases")
	}
	if b, err := os.ReadFile(aliases); err == nil {
		im.Maps["aliases"] = string(b)
		noteAliases(string(b), im)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, name := range []string{"virtusertable", "genericstable"} {
		if src, ok, err := read(name); err != nil {
			return nil, err
		} else if ok {
			im.Maps[name] = src
		}
	}
	if src, ok, err := read("mailertable"); err != nil {
		return nil, err
	} else if ok {
		im.Maps["mailertable"] = convertMailertable(src, im)
	}

	listeners := importListeners(cfg, im)
	milters := inputMailFilters(cfg, im)
	masquerade := masquerading(cfg, im)
	blocklists, dnsblStage := importDNSBL(cfg, im)
	noteUnsupported(cfg, im)
	for _, l := range [][]Note{im.Changed, im.NotCarried} {
		sort.SliceStable(l, func(i, j int) bool {
			if l[i].File != l[j].File {
				return l[i].File < l[j].File
			}
			return l[i].Line < l[j].Line
		})
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# postern configuration imported from %s by postern import-sendmail.\n", opt.Dir)
	fmt.Fprintf(&b, "# Read the import notes before starting: some entries changed meaning.\n\n")
	fmt.Fprintf(&b, "hostname = %s\n", tomlString(hostname))
	fmt.Fprintf(&b, "data_dir = %s\n", tomlString(opt.DataDir))
	fmt.Fprintf(&b, "maps_dir = %s\n", tomlString(opt.MapsDir))
	fmt.Fprintf(&b, "local_domains = %s\n", tomlList(localDomains))
	fmt.Fprintf(&b, "relay_domains = %s\n", tomlList(relayDomains))
	fmt.Fprintf(&b, "trusted_networks = %s\n", tomlList(trusted))
	if opt.User != "" {
		fmt.Fprintf(&b, "user = %s\n", tomlString(opt.User))
	} else {
		fmt.Fprintf(&b, "# user = \"postern\"   # set before starting as root: postern drops to it after binding\n")
	}
	for _, l := range listeners {
		fmt.Fprintf(&b, "\n# %s\n[[listener]]\naddress = %s\nmode = %s\n", l.source, tomlString(l.address), tomlString(l.mode))
	}
	cert, key := cfg.Options["ServerCertFile"].Value, cfg.Options["ServerKeyFile"].Value
	fmt.Fprintf(&b, "\n[tls]\n")
	if cert != "" && key != "" && !strings.Contains(cert+key, "$") {
		fmt.Fprintf(&b, "cert = %s\nkey = %s\n", tomlString(cert), tomlString(key))
	} else {
		fmt.Fprintf(&b, "# sendmail had no STARTTLS certificate; postern generates a self-signed one.\ncert = \"\"\nkey = \"\"\n")
	}
	fmt.Fprintf(&b, "\n[delivery]\n# sendmail's local mailer delivered to /var/mail/USER (mbox).\nmailbox = %s\n", tomlString("/var/mail/{user}"))
	if s := cfg.SmartHost; s.Value != "" {
		src := settingSource(cfg, "SMART_HOST", "DS", s)
		if v, err := smartHost(s.Value, cfg.Defines["confRELAY_MAILER"].Value); err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line, Text: "SMART_HOST " + oneLine(s.Value) + ": not written: " + err.Error()})
		} else {
			fmt.Fprintf(&b, "# %s\nsmarthost = %s\n", src, tomlString(v))
		}
	}
	if s := cfg.LuserRelay; s.Value != "" {
		src := settingSource(cfg, "LUSER_RELAY", "DL", s)
		if v, err := luserRelay(s.Value); err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line, Text: "LUSER_RELAY " + oneLine(s.Value) + ": not written: " + err.Error()})
		} else {
			fmt.Fprintf(&b, "# %s\nluser_relay = %s\n", src, tomlString(v))
		}
	}
	for _, l := range masquerade {
		fmt.Fprintf(&b, "%s\n", l)
	}
	var limits []string
	if s, ok := cfg.Options["MaxMessageSize"]; ok {
		if v, err := messageSizeLimit(s.Value); err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line, Text: "confMAX_MESSAGE_SIZE " + oneLine(s.Value) + ": not written: " + err.Error()})
		} else {
			limits = append(limits, fmt.Sprintf("# %s\nmax_message_bytes = %d", settingSource(cfg, "confMAX_MESSAGE_SIZE", "O MaxMessageSize=", s), v))
		}
	}
	if s, ok := cfg.Options["MaxRecipientsPerMessage"]; ok {
		if v, err := recipientLimit(s.Value); err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line, Text: "confMAX_RCPTS_PER_MESSAGE " + oneLine(s.Value) + ": not written: " + err.Error()})
		} else {
			limits = append(limits, fmt.Sprintf("# %s\nmax_recipients = %d", settingSource(cfg, "confMAX_RCPTS_PER_MESSAGE", "O MaxRecipientsPerMessage=", s), v))
		}
	}
	if len(limits) > 0 {
		fmt.Fprintf(&b, "\n[limits]\n%s\n", strings.Join(limits, "\n"))
	}
	if len(blocklists) > 0 {
		fmt.Fprintf(&b, "\n[checks.dnsbl]\n")
		if dnsblStage == "rcpt" {
			fmt.Fprintf(&b, "# FEATURE(`delay_checks'): sendmail refused listed clients at RCPT.\n")
		} else {
			fmt.Fprintf(&b, "# no FEATURE(`delay_checks'): sendmail refused listed clients for the whole session.\n")
		}
		fmt.Fprintf(&b, "stage = %s\n", tomlString(dnsblStage))
		for _, l := range blocklists {
			fmt.Fprintf(&b, "\n# %s\n[[checks.dnsbl.list]]\nzone = %s\ncodes = %s\nreply = %s\non_error = %s\n",
				l.source, tomlString(l.zone), tomlList(l.codes), tomlString(l.reply), tomlString(l.onError))
		}
	}
	for _, m := range milters {
		fmt.Fprintf(&b, "\n# %s\n[[milter]]\nname = %s\nsocket = %s\nflags = %s\ntimeouts = %s\n",
			oneLine(m.source), tomlString(m.name), tomlString(m.socket), tomlString(m.flags), tomlString(m.timeouts))
	}
	im.Config = b.String()
	return im, nil
}

// importListeners turns DAEMON_OPTIONS into listeners, adding sendmail's
// defaults (MTA on 25 and MSA on 587, on every address) where it would.
func importListeners(cfg *Config, im *Imported) []listener {
	var out []listener
	daemons := cfg.Daemons
	_, noMSA := cfg.Features["no_default_msa"]
	if len(daemons) == 0 {
		daemons = append(daemons, Daemon{Raw: "default MTA", Opts: map[string]string{"Port": "smtp", "Name": "MTA"}})
	}
	if !noMSA && cfg.Kind == "mc" {
		hasMSA := false
		for _, d := range daemons {
			hasMSA = hasMSA || isMSA(d)
		}
		if !hasMSA {
			daemons = append(daemons, Daemon{Raw: "default MSA (no FEATURE(`no_default_msa'))", Opts: map[string]string{"Port": "submission", "Name": "MSA", "M": "E"}})
		}
	}
	for _, d := range daemons {
		port := d.Opts["Port"]
		switch strings.ToLower(port) {
		case "", "smtp":
			port = "25"
		case "submission":
			port = "587"
		case "smtps", "submissions":
			port = "465"
		}
		if _, err := strconv.Atoi(port); err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: d.Line, Text: "DAEMON_OPTIONS " + d.Raw + ": unknown port " + port})
			continue
		}
		addr := d.Opts["Addr"]
		fam := strings.ToLower(d.Opts["Family"])
		switch {
		case fam == "local" || fam == "unix":
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: d.Line, Text: "DAEMON_OPTIONS " + d.Raw + ": unix-socket daemons have no postern equivalent"})
			continue
		case addr == "" && fam == "inet6":
			addr = "::"
		case addr == "" || addr == "INADDR_ANY":
			addr = "0.0.0.0"
		}
		for k, v := range d.Opts {
			// sendmail tells daemon options by their first letter; I is
			// InputMailFilters, the milters of this daemon alone.
			if k != "" && (k[0] == 'I' || k[0] == 'i') {
				im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: d.Line,
					Text: "DAEMON_OPTIONS " + d.Raw + ": " + k + "=" + v + " (the milters of this daemon alone) is not carried over; set listeners = [...] on those [[milter]] tables by hand"})
			}
		}
		mods := d.Opts["M"]
		mode := "mta"
		switch {
		case strings.Contains(mods, "s") || port == "465":
			mode = "smtps"
		case port == "587" || isMSA(d):
			mode = "submission"
		}
		src := "from " + d.Raw
		if d.Line > 0 {
			src = fmt.Sprintf("from %s line %d: %s", cfg.File, d.Line, d.Raw)
		}
		if mode == "submission" && strings.Contains(mods, "a") {
			src += " (AUTH required: postern's submission mode always requires it)"
		} else if mode == "submission" {
			im.Changed = append(im.Changed, Note{File: cfg.File, Line: d.Line,
				Text: "submission daemon " + d.Raw + " did not require AUTH (no M=a); postern's submission mode always requires STARTTLS then AUTH"})
		}
		out = append(out, listener{address: net.JoinHostPort(addr, port), mode: mode, line: d.Line, source: src})
	}
	return out
}

// settingSource names the line a value came from, for the comment above
// it in the config: the define of a .mc, the macro or option line of a .cf.
func settingSource(cfg *Config, define, cfPrefix string, s Setting) string {
	text := "define(`" + define + "', `" + s.Value + "')"
	if cfg.Kind == "cf" {
		text = cfPrefix + s.Value
	}
	if s.Line == 0 {
		return oneLine("from " + cfg.File + ": " + text)
	}
	return oneLine(fmt.Sprintf("from %s line %d: %s", cfg.File, s.Line, text))
}

// noteUnsupported lists the .mc settings with no postern equivalent in
// this import.
func noteUnsupported(cfg *Config, im *Imported) {
	if s, ok := cfg.Options["InputMailFilters"]; ok && cfg.Kind == "cf" {
		im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line,
			Text: "InputMailFilters " + oneLine(s.Value) + ": the milters of a sendmail.cf (X lines) are not read; import the sendmail.mc, or add them as [[milter]] tables by hand"})
	}
	for _, c := range cfg.Calls {
		switch c.Name {
		case "include", "OSTYPE", "DOMAIN", "HACK", "SITECONFIG_FILE":
			if c.Name == "include" && strings.HasSuffix(c.Arg(0), "m4/cf.m4") {
				continue // the standard boilerplate every .mc starts with
			}
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: c.Line,
				Text: c.Name + "(" + strings.Join(c.Args, ", ") + "): not read; settings made in that file are not imported"})
		case "LOCAL_RULESETS", "LOCAL_RULE_0", "LOCAL_RULE_3", "LOCAL_CONFIG", "LOCAL_NET_CONFIG", "SITECONFIG":
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: c.Line,
				Text: c.Name + ": hand-written rewriting rules cannot be carried over; express them as maps"})
		}
	}
	features := make([]string, 0, len(cfg.Features))
	for f := range cfg.Features {
		features = append(features, f)
	}
	sort.Strings(features)
	for _, f := range features {
		s := cfg.Features[f]
		switch f {
		case "access_db", "use_cw_file", "virtusertable", "genericstable", "mailertable", "no_default_msa", "nouucp",
			"masquerade_envelope", "masquerade_entire_domain":
			// Carried over by the maps and listeners.
			continue
		case "delay_checks":
			im.Changed = append(im.Changed, Note{File: cfg.File, Line: s.Line,
				Text: "FEATURE(`delay_checks'): postern always decides at RCPT, after MAIL FROM and HELO are known"})
		case "greet_pause", "conncontrol", "ratecontrol":
			im.Changed = append(im.Changed, Note{File: cfg.File, Line: s.Line,
				Text: "FEATURE(`" + f + "', " + s.Value + "): replaced by postern's own greeting delay and connection limits; their values are not imported"})
		case "smrsh", "local_procmail":
			im.Changed = append(im.Changed, Note{File: cfg.File, Line: s.Line,
				Text: "FEATURE(`" + f + "'): postern runs programs only when pipe delivery is enabled"})
		case "always_add_domain", "redirect", "use_ct_file", "blacklist_recipients", "blocklist_recipients":
			im.Changed = append(im.Changed, Note{File: cfg.File, Line: s.Line,
				Text: "FEATURE(`" + f + "'): postern behaves this way by itself or through its maps (To: entries in access)"})
		case "promiscuous_relay", "relay_based_on_MX", "relay_local_from", "relay_mail_from", "loose_relay_check", "relay_entire_domain",
			"accept_unresolvable_domains", "accept_unqualified_senders":
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line,
				Text: "FEATURE(`" + f + "') is deliberately not carried over: postern refuses to be configured that unsafely (see postern lint-sendmail)"})
		case "allmasquerade":
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line,
				Text: "FEATURE(`allmasquerade'): postern masquerades the sender (envelope, From: and Sender:), never recipient header fields"})
		case "dnsbl", "enhdnsbl":
			// Written as [[checks.dnsbl.list]] by importDNSBL.
			continue
		default:
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line,
				Text: "FEATURE(`" + f + "') has no direct postern equivalent"})
		}
	}
}

// convertAccess rewrites the access map for postern, noting every entry
// whose meaning changes and commenting out what postern does not take.
func convertAccess(src string, im *Imported) string {
	var b strings.Builder
	b.WriteString("# access map imported from sendmail by postern import-sendmail; see the import notes.\n")
	entries, errs := ReadMap(src)
	for _, err := range errs {
		im.NotCarried = append(im.NotCarried, Note{File: "access", Text: err.Error()})
	}
	for _, e := range entries {
		note := func(list *[]Note, text string) { *list = append(*list, Note{File: "access", Line: e.Line, Text: text}) }
		value := e.Value
		verb := strings.ToUpper(strings.Fields(value + " x")[0])
		// sendmail also takes a bare "550 text" as the value.
		if len(verb) == 3 && (verb[0] == '4' || verb[0] == '5') && isDigits(verb) {
			enh := "5.7.1"
			if verb[0] == '4' {
				enh = "4.7.1"
			}
			value = "ERROR:" + enh + ":" + strings.TrimSpace(value)
			verb = "ERROR"
			note(&im.Changed, "value \""+e.Value+"\" written as \""+value+"\" (same reply)")
		}
		switch verb {
		case "OK", "RELAY", "REJECT", "DISCARD", "SKIP":
		default:
			if !strings.HasPrefix(verb, "ERROR:") && verb != "ERROR" {
				note(&im.NotCarried, "value "+e.Value+" for "+e.Key+" has no postern equivalent; entry commented out")
				fmt.Fprintf(&b, "# not imported: %s\n", e.Raw)
				continue
			}
		}
		key := e.Key
		switch e.Tag {
		case "Connect", "From", "To", "":
		default:
			note(&im.NotCarried, "tag "+e.Tag+": has no postern equivalent; entry commented out")
			fmt.Fprintf(&b, "# not imported: %s\n", e.Raw)
			continue
		}
		tag := e.Tag
		if verb == "RELAY" {
			isAddr, _ := NetworkKey(key)
			switch {
			case tag == "From" || (tag == "" && strings.Contains(key, "@")):
				note(&im.Changed, e.Key+" RELAY relays because of a claimed sender; postern honours it only with allow_sender_relay = true, which this import does not set (use AUTH instead)")
			case tag == "Connect" && !isAddr:
				note(&im.NotCarried, "Connect:"+key+" RELAY grants relaying by the client's reverse DNS, which postern never does; entry commented out (list the hosts' addresses as Connect:ADDRESS RELAY)")
				fmt.Fprintf(&b, "# not imported: %s\n", e.Raw)
				continue
			case tag == "" && !isAddr:
				tag = "To"
				note(&im.Changed, "untagged "+key+" RELAY written as To:"+key+" RELAY: mail addressed to "+key+" is relayed as before, but hosts whose reverse DNS is in "+key+" may no longer relay (postern never relays by reverse DNS)")
			}
		}
		k := key
		if tag != "" {
			k = tag + ":" + key
		}
		fmt.Fprintf(&b, "%s\t%s\n", k, value)
	}
	return b.String()
}

func noteAliases(src string, im *Imported) {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' {
			continue
		}
		_, targets, ok := strings.Cut(t, ":")
		if !ok && (l[0] == ' ' || l[0] == '\t') {
			targets = t
		}
		for _, f := range strings.Split(targets, ",") {
			f = strings.Trim(strings.TrimSpace(f), `"`)
			switch {
			case strings.HasPrefix(f, "|"):
				im.Changed = append(im.Changed, Note{File: "aliases", Line: i + 1, Text: "pipe target " + f + " runs only when pipe delivery is enabled in postern"})
			case strings.HasPrefix(f, "/"):
				im.Changed = append(im.Changed, Note{File: "aliases", Line: i + 1, Text: "file target " + f + " is written only when file delivery is enabled in postern"})
			case strings.HasPrefix(f, ":include:"):
				im.Changed = append(im.Changed, Note{File: "aliases", Line: i + 1, Text: "include " + f + " is read from its path as before; copy it if it lives under /etc/mail"})
			}
		}
	}
}

// convertMailertable keeps smtp:, relay:, local:, lmtp: and error:
// entries, maps sendmail's other SMTP mailers to smtp:, and comments out
// the rest.
func convertMailertable(src string, im *Imported) string {
	var b strings.Builder
	entries, errs := ReadMap(src)
	for _, err := range errs {
		im.NotCarried = append(im.NotCarried, Note{File: "mailertable", Text: err.Error()})
	}
	for _, e := range entries {
		key := e.Key
		if e.Tag != "" {
			key = e.Tag + ":" + e.Key
		}
		mailer, rest, _ := strings.Cut(e.Value, ":")
		switch strings.ToLower(mailer) {
		case "smtp", "relay", "local", "lmtp", "error":
			fmt.Fprintf(&b, "%s\t%s\n", key, e.Value)
		case "esmtp", "smtp8", "dsmtp":
			fmt.Fprintf(&b, "%s\tsmtp:%s\n", key, rest)
			im.Changed = append(im.Changed, Note{File: "mailertable", Line: e.Line, Text: mailer + ":" + rest + " written as smtp:" + rest + " (postern's SMTP client always uses ESMTP and 8BITMIME when offered)"})
		default:
			fmt.Fprintf(&b, "# not imported: %s\n", e.Raw)
			im.NotCarried = append(im.NotCarried, Note{File: "mailertable", Line: e.Line, Text: "mailer " + mailer + " for " + key + " has no postern equivalent; entry commented out"})
		}
	}
	return b.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// toCIDR turns sendmail's network forms (192.168.2, 10.0.0.0/8,
// IPv6:2001:db8::/32) into CIDR notation.
func toCIDR(key string) (string, error) {
	k := key
	if strings.HasPrefix(strings.ToLower(k), "ipv6:") {
		k = k[5:]
	}
	if _, n, err := net.ParseCIDR(k); err == nil {
		return n.String(), nil
	}
	if ip := net.ParseIP(k); ip != nil {
		if ip.To4() != nil {
			return ip.String() + "/32", nil
		}
		return ip.String() + "/128", nil
	}
	parts := strings.Split(k, ".")
	if len(parts) >= 1 && len(parts) <= 3 {
		oct := append(parts, make([]string, 4-len(parts))...)
		for i := len(parts); i < 4; i++ {
			oct[i] = "0"
		}
		ip := net.ParseIP(strings.Join(oct, "."))
		if ip != nil {
			return fmt.Sprintf("%s/%d", ip, 8*len(parts)), nil
		}
	}
	return "", fmt.Errorf("cannot turn %q into a network", key)
}

func appendUnique(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
