package sendmailcf

import "strings"

// configLint collects the findings for one sendmail.mc or sendmail.cf.
type configLint struct {
	c   *Config
	out []Finding
}

func (l *configLint) add(line int, rule string, sev Severity, msg, fix string) {
	l.out = append(l.out, Finding{File: l.c.File, Line: line, Rule: rule, Severity: sev, Message: msg, Fix: fix})
}

// configChecks are the checks of a configuration, in the order their
// findings are listed.
var configChecks = []func(*configLint){
	lintFeatures,
	lintAuth,
	lintDontBlameSendmail,
	lintIdent,
	lintPrivacy,
	lintForwardPath,
	lintCert,
	lintBanner,
	lintDaemons,
}

// lintConfig runs the configChecks on c.
func lintConfig(c *Config) []Finding {
	l := &configLint{c: c}
	for _, check := range configChecks {
		check(l)
	}
	return l.out
}

// lintFeatures reports the dangerous FEATUREs (featureRules) and, for a
// .mc, FEATURE(`msp') in the MTA's configuration.
func lintFeatures(l *configLint) {
	c := l.c
	// In a .cf the FEATUREs come from the m4 headers (see ParseCF).
	for _, r := range featureRules {
		if s, ok := c.Features[r.feature]; ok {
			l.add(s.Line, r.rule, r.sev, r.msg, c.fix(r.fix, "In the sendmail.mc this file was generated from: "+r.fix+" Then rebuild sendmail.cf."))
		}
	}
	if c.Kind == "mc" {
		if s, ok := c.Features["msp"]; ok && !strings.Contains(strings.ToLower(c.File), "submit") {
			l.add(s.Line, "msp-in-mta", SevWarn,
				"FEATURE(`msp') belongs in submit.mc (the local mail submission program); in the MTA's configuration it disables the daemon's relay checks for its configured host.",
				"Remove FEATURE(`msp') from sendmail.mc; keep it in submit.mc only.")
		}
	} else if len(c.Features) == 0 {
		l.add(0, "cf-features-unreadable", SevInfo,
			"This sendmail.cf has no m4 file headers (\"#####  $Id: feature.m4\"), so the FEATUREs it was built from (promiscuous_relay, relay_based_on_MX ...) cannot be read back from it.",
			"Lint the sendmail.mc it was generated from as well.")
	}
}

// lintAuth: AUTH without "p" in AuthOptions allows plaintext mechanisms
// over an unencrypted connection.
func lintAuth(l *configLint) {
	c := l.c
	authOn := c.Options["AuthMechanisms"].Value != ""
	for _, call := range c.Calls {
		if call.Name == "TRUST_AUTH_MECH" {
			authOn = true
		}
	}
	if !authOn {
		return
	}
	ao, ok := c.Options["AuthOptions"]
	if !hasFlag(ao.Value, "p") {
		line := ao.Line
		if !ok {
			line = c.Options["AuthMechanisms"].Line
		}
		l.add(line, "auth-plaintext", SevFail,
			"SMTP AUTH is enabled but AuthOptions lacks the p flag, so PLAIN and LOGIN are offered on unencrypted connections and passwords travel in clear.",
			c.fix("define(`confAUTH_OPTIONS', `A p y')dnl (p: no plaintext mechanisms without TLS).", "O AuthOptions=A,p,y (p: no plaintext mechanisms without TLS), and make the same change in sendmail.mc."))
	}
}

func lintDontBlameSendmail(l *configLint) {
	if s, ok := l.c.Options["DontBlameSendmail"]; ok && !strings.EqualFold(strings.TrimSpace(s.Value), "safe") && strings.TrimSpace(s.Value) != "" {
		l.add(s.Line, "dont-blame-sendmail", SevWarn,
			"DontBlameSendmail ("+s.Value+") turns off sendmail's file permission checks, so group- or world-writable files can change how mail is delivered.",
			"Fix the file permissions instead and remove confDONT_BLAME_SENDMAIL (or set it to `safe').")
	}
}

func lintIdent(l *configLint) {
	c := l.c
	if s, ok := c.Options["Timeout.ident"]; !ok {
		l.add(0, "ident-lookups", SevWarn,
			"confTO_IDENT is not set: sendmail makes an IDENT (RFC 1413) query back to every client, which leaks nothing useful, delays every connection and is blocked by most firewalls.",
			c.fix("define(`confTO_IDENT', `0')dnl", "O Timeout.ident=0"))
	} else if v := strings.TrimSpace(s.Value); v != "0" && v != "0s" {
		l.add(s.Line, "ident-lookups", SevWarn,
			"confTO_IDENT is "+v+": sendmail makes an IDENT query back to every client.",
			c.fix("define(`confTO_IDENT', `0')dnl", "O Timeout.ident=0"))
	}
}

func lintPrivacy(l *configLint) {
	c := l.c
	po, ok := c.Options["PrivacyOptions"]
	if !ok {
		l.add(0, "privacy-options", SevWarn,
			"PrivacyOptions is not set (default authwarnings only): EXPN and VRFY reveal your users and lists.",
			c.fix("define(`confPRIVACY_FLAGS', `goaway,restrictqrun,restrictmailq')dnl", "O PrivacyOptions=goaway,restrictqrun,restrictmailq"))
		return
	}
	if hasFlag(po.Value, "goaway") {
		return
	}
	var missing []string
	for _, f := range []string{"noexpn", "novrfy"} {
		if !hasFlag(po.Value, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		l.add(po.Line, "privacy-options", SevWarn,
			"PrivacyOptions lacks "+strings.Join(missing, " and ")+" (and goaway): "+"EXPN/VRFY reveal your users and lists.",
			c.fix("Add goaway (or at least noexpn,novrfy) to confPRIVACY_FLAGS.", "Add goaway (or at least noexpn,novrfy) to O PrivacyOptions."))
	}
}

func lintForwardPath(l *configLint) {
	c := l.c
	if s, ok := c.Options["ForwardPath"]; !ok {
		l.add(0, "forward-path", SevWarn,
			"confFORWARD_PATH is not set, so users' ~/.forward files are honoured: any user can make sendmail run programs or write files as them on mail arrival.",
			c.fix("define(`confFORWARD_PATH', `')dnl to disable .forward, or point it at files only root can write.", "O ForwardPath= (empty) to disable .forward."))
	} else if strings.TrimSpace(s.Value) != "" {
		l.add(s.Line, "forward-path", SevWarn,
			"ForwardPath is "+s.Value+": users' .forward files are honoured and can run programs on mail arrival.",
			c.fix("define(`confFORWARD_PATH', `')dnl unless you need .forward files.", "O ForwardPath= (empty) unless you need .forward files."))
	}
}

func lintCert(l *configLint) {
	cert, hasCert := l.c.Options["ServerCertFile"]
	key, hasKey := l.c.Options["ServerKeyFile"]
	if !hasCert || !hasKey || strings.TrimSpace(cert.Value) == "" || strings.TrimSpace(key.Value) == "" {
		line := cert.Line
		if line == 0 {
			line = key.Line
		}
		l.add(line, "no-starttls-cert", SevWarn,
			"No STARTTLS certificate (confSERVER_CERT and confSERVER_KEY): mail to and from this server travels in clear text.",
			"define(`confSERVER_CERT', `/etc/mail/tls/server.crt')dnl and define(`confSERVER_KEY', `/etc/mail/tls/server.key')dnl (plus confCACERT for the chain).")
	}
}

func lintBanner(l *configLint) {
	if s, ok := l.c.Options["SmtpGreetingMessage"]; ok && (strings.Contains(s.Value, "$v") || strings.Contains(s.Value, "$Z")) {
		l.add(s.Line, "banner-version", SevWarn,
			"The SMTP greeting includes $v/$Z, the sendmail version, which tells attackers what to try.",
			l.c.fix("define(`confSMTP_LOGIN_MSG', `$j')dnl", "O SmtpGreetingMessage=$j"))
	}
}

// lintDaemons: sendmail adds an MSA on port 587 on every address unless
// FEATURE(`no_default_msa') is given.
func lintDaemons(l *configLint) {
	c := l.c
	_, noDefaultMSA := c.Features["no_default_msa"]
	if c.Kind == "mc" && !noDefaultMSA && len(c.Daemons) > 0 {
		l.add(0, "default-msa", SevWarn,
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
			l.add(d.Line, "msa-all-addresses", SevWarn,
				"The submission daemon ("+d.Raw+") listens on every address without requiring AUTH (no a in M=): any network client may submit through it.",
				"Require AUTH for network users with M=Ea in this DAEMON_OPTIONS (and AUTH_OPTIONS with the p flag), or add Addr=127.0.0.1 if only local clients submit.")
		}
	}
}
