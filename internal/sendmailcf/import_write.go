package sendmailcf

import (
	"fmt"
	"strings"
)

// writeConfig writes the postern TOML of the import, section by section.
// A value that cannot be written is noted in im.NotCarried, after the
// notes Import has sorted.
func writeConfig(s *importSetup, im *Imported) string {
	var b strings.Builder
	writeTopLevel(&b, s)
	for _, l := range s.listeners {
		fmt.Fprintf(&b, "\n# %s\n[[listener]]\naddress = %s\nmode = %s\n", l.source, tomlString(l.address), tomlString(l.mode))
	}
	writeTLS(&b, s.cfg)
	writeDelivery(&b, s.cfg, s.masquerade, im)
	writeLimits(&b, s.cfg, im)
	writeDNSBL(&b, s.blocklists, s.dnsblStage)
	for _, m := range s.milters {
		fmt.Fprintf(&b, "\n# %s\n[[milter]]\nname = %s\nsocket = %s\nflags = %s\ntimeouts = %s\n",
			oneLine(m.source), tomlString(m.name), tomlString(m.socket), tomlString(m.flags), tomlString(m.timeouts))
	}
	return b.String()
}

// writeTopLevel writes the header comment and the top-level keys.
func writeTopLevel(b *strings.Builder, s *importSetup) {
	fmt.Fprintf(b, "# postern configuration imported from %s by postern import-sendmail.\n", s.opt.Dir)
	fmt.Fprintf(b, "# Read the import notes before starting: some entries changed meaning.\n\n")
	fmt.Fprintf(b, "hostname = %s\n", tomlString(s.hostname))
	fmt.Fprintf(b, "data_dir = %s\n", tomlString(s.opt.DataDir))
	fmt.Fprintf(b, "maps_dir = %s\n", tomlString(s.opt.MapsDir))
	fmt.Fprintf(b, "local_domains = %s\n", tomlList(s.localDomains))
	fmt.Fprintf(b, "relay_domains = %s\n", tomlList(s.relayDomains))
	fmt.Fprintf(b, "trusted_networks = %s\n", tomlList(s.trusted))
	if s.opt.User != "" {
		fmt.Fprintf(b, "user = %s\n", tomlString(s.opt.User))
	} else {
		fmt.Fprintf(b, "# user = \"postern\"   # set before starting as root: postern drops to it after binding\n")
	}
}

// writeTLS writes [tls] with sendmail's STARTTLS certificate, if it had one.
func writeTLS(b *strings.Builder, cfg *Config) {
	cert, key := cfg.Options["ServerCertFile"].Value, cfg.Options["ServerKeyFile"].Value
	fmt.Fprintf(b, "\n[tls]\n")
	if cert != "" && key != "" && !strings.Contains(cert+key, "$") {
		fmt.Fprintf(b, "cert = %s\nkey = %s\n", tomlString(cert), tomlString(key))
	} else {
		fmt.Fprintf(b, "# sendmail had no STARTTLS certificate; postern generates a self-signed one.\ncert = \"\"\nkey = \"\"\n")
	}
}

// writeDelivery writes [delivery]: the mailbox, SMART_HOST, LUSER_RELAY
// and the masquerade lines.
func writeDelivery(b *strings.Builder, cfg *Config, masquerade []string, im *Imported) {
	fmt.Fprintf(b, "\n[delivery]\n# sendmail's local mailer delivered to /var/mail/USER (mbox).\nmailbox = %s\n", tomlString("/var/mail/{user}"))
	if s := cfg.SmartHost; s.Value != "" {
		src := settingSource(cfg, "SMART_HOST", "DS", s)
		if v, err := smartHost(s.Value, cfg.Defines["confRELAY_MAILER"].Value); err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line, Text: "SMART_HOST " + oneLine(s.Value) + ": not written: " + err.Error()})
		} else {
			fmt.Fprintf(b, "# %s\nsmarthost = %s\n", src, tomlString(v))
		}
	}
	if s := cfg.LuserRelay; s.Value != "" {
		src := settingSource(cfg, "LUSER_RELAY", "DL", s)
		if v, err := luserRelay(s.Value); err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line, Text: "LUSER_RELAY " + oneLine(s.Value) + ": not written: " + err.Error()})
		} else {
			fmt.Fprintf(b, "# %s\nluser_relay = %s\n", src, tomlString(v))
		}
	}
	for _, l := range masquerade {
		fmt.Fprintf(b, "%s\n", l)
	}
}

// writeLimits writes [limits] when sendmail set a message size or
// recipient limit.
func writeLimits(b *strings.Builder, cfg *Config, im *Imported) {
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
		fmt.Fprintf(b, "\n[limits]\n%s\n", strings.Join(limits, "\n"))
	}
}

// writeDNSBL writes [checks.dnsbl] and its lists, if there are any.
func writeDNSBL(b *strings.Builder, blocklists []dnsblList, stage string) {
	if len(blocklists) == 0 {
		return
	}
	fmt.Fprintf(b, "\n[checks.dnsbl]\n")
	if stage == "rcpt" {
		fmt.Fprintf(b, "# FEATURE(`delay_checks'): sendmail refused listed clients at RCPT.\n")
	} else {
		fmt.Fprintf(b, "# no FEATURE(`delay_checks'): sendmail refused listed clients for the whole session.\n")
	}
	fmt.Fprintf(b, "stage = %s\n", tomlString(stage))
	for _, l := range blocklists {
		fmt.Fprintf(b, "\n# %s\n[[checks.dnsbl.list]]\nzone = %s\ncodes = %s\nreply = %s\non_error = %s\n",
			l.source, tomlString(l.zone), tomlList(l.codes), tomlString(l.reply), tomlString(l.onError))
	}
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
