package sendmailcf

import (
	"sort"
	"strings"
)

// noteUnsupported lists the .mc settings with no postern equivalent in
// this import.
func noteUnsupported(cfg *Config, im *Imported) {
	if s, ok := cfg.Options["InputMailFilters"]; ok && cfg.Kind == "cf" {
		im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line,
			Text: "InputMailFilters " + oneLine(s.Value) + ": the milters of a sendmail.cf (X lines) are not read; import the sendmail.mc, or add them as [[milter]] tables by hand"})
	}
	noteUnsupportedCalls(cfg, im)
	noteUnsupportedFeatures(cfg, im)
}

// noteUnsupportedCalls lists the included files and the hand-written
// rules of the .mc, which the import does not read.
func noteUnsupportedCalls(cfg *Config, im *Imported) {
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
}

// featureNote is what the import notes for a group of FEATUREs: a change
// of meaning, or (notCarried) a feature left out. A nil text means the
// features are carried over elsewhere and need no note.
type featureNote struct {
	features   []string
	notCarried bool
	text       func(f string, s Setting) string
}

// featureNotes are the FEATUREs the import knows; any other gets "has
// no direct postern equivalent".
var featureNotes = []featureNote{
	// Carried over by the maps and listeners.
	{features: []string{"access_db", "use_cw_file", "virtusertable", "genericstable", "mailertable", "no_default_msa", "nouucp",
		"masquerade_envelope", "masquerade_entire_domain"}},
	// Written as [[checks.dnsbl.list]] by importDNSBL.
	{features: []string{"dnsbl", "enhdnsbl"}},
	{features: []string{"delay_checks"}, text: func(string, Setting) string {
		return "FEATURE(`delay_checks'): postern always decides at RCPT, after MAIL FROM and HELO are known"
	}},
	{features: []string{"greet_pause", "conncontrol", "ratecontrol"}, text: func(f string, s Setting) string {
		return "FEATURE(`" + f + "', " + s.Value + "): replaced by postern's own greeting delay and connection limits; their values are not imported"
	}},
	{features: []string{"smrsh", "local_procmail"}, text: func(f string, _ Setting) string {
		return "FEATURE(`" + f + "'): postern runs programs only when pipe delivery is enabled"
	}},
	{features: []string{"always_add_domain", "redirect", "use_ct_file", "blacklist_recipients", "blocklist_recipients"}, text: func(f string, _ Setting) string {
		return "FEATURE(`" + f + "'): postern behaves this way by itself or through its maps (To: entries in access)"
	}},
	{features: []string{"promiscuous_relay", "relay_based_on_MX", "relay_local_from", "relay_mail_from", "loose_relay_check", "relay_entire_domain",
		"accept_unresolvable_domains", "accept_unqualified_senders"}, notCarried: true, text: func(f string, _ Setting) string {
		return "FEATURE(`" + f + "') is deliberately not carried over: postern refuses to be configured that unsafely (see postern lint-sendmail)"
	}},
	{features: []string{"allmasquerade"}, notCarried: true, text: func(string, Setting) string {
		return "FEATURE(`allmasquerade'): postern masquerades the sender (envelope, From: and Sender:), never recipient header fields"
	}},
}

// unknownFeature is the note for a FEATURE missing from featureNotes.
var unknownFeature = featureNote{notCarried: true, text: func(f string, _ Setting) string {
	return "FEATURE(`" + f + "') has no direct postern equivalent"
}}

// lookupFeatureNote finds the note for feature f.
func lookupFeatureNote(f string) featureNote {
	for _, n := range featureNotes {
		for _, name := range n.features {
			if name == f {
				return n
			}
		}
	}
	return unknownFeature
}

// noteUnsupportedFeatures notes the FEATUREs, sorted by name, that
// change meaning or are left out.
func noteUnsupportedFeatures(cfg *Config, im *Imported) {
	features := make([]string, 0, len(cfg.Features))
	for f := range cfg.Features {
		features = append(features, f)
	}
	sort.Strings(features)
	for _, f := range features {
		s := cfg.Features[f]
		n := lookupFeatureNote(f)
		if n.text == nil {
			continue
		}
		list := &im.Changed
		if n.notCarried {
			list = &im.NotCarried
		}
		*list = append(*list, Note{File: cfg.File, Line: s.Line, Text: n.text(f, s)})
	}
}
