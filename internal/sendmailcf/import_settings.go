package sendmailcf

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"postern/internal/config"
	"postern/internal/milter/spec"
	"postern/internal/smtp"
)

// This file turns the sendmail.mc settings postern has keys for into
// those keys: SMART_HOST, LUSER_RELAY, the input mail filters and the
// message size and recipient limits. A form postern cannot express is
// returned as an error, which the importer lists for the admin.

// smtpMailers are sendmail's SMTP mailers (cf/README, MAILER(`smtp')):
// all speak SMTP to the host they are given, which is what postern's
// smarthost does.
var smtpMailers = map[string]bool{"relay": true, "smtp": true, "esmtp": true, "smtp8": true, "dsmtp": true}

// splitMailer splits sendmail's "mailer:host" into its parts. The
// mailer is what precedes the first ':' when that comes before any '['
// (sendmail's MailerToTriple matches the mailer as $~[, one token that is
// not '['); "" when there is none.
func splitMailer(v string) (mailer, rest string) {
	i := strings.IndexByte(v, ':')
	if i < 0 || strings.ContainsAny(v[:i], "[@") {
		return "", v
	}
	return v[:i], v[i+1:]
}

// smartHost turns a SMART_HOST value into postern's [delivery] smarthost.
//
// sendmail's forms (cf/README "MASQUERADING AND RELAYING" and "NON-SMTP
// BASED CONFIGURATIONS"; proto.m4 ruleset MailerToTriple):
//
//	relay:[mail.example.com]   mailer relay, host without MX lookup
//	esmtp:mail.example.com     mailer esmtp, MX lookup for the host
//	[192.0.2.1]                no mailer: relay (confRELAY_MAILER)
//	mail.example.com
//	error:...  local:...       every remote message bounced / kept here
//	smtp:user@host             every remote message to one address
//	relay:[a]:[b]              a colon after the host starts a list of
//	                           hosts tried in turn, not a port
//
// relayMailer is confRELAY_MAILER, the mailer of a value without one
// ("" means sendmail's default, relay).
func smartHost(v, relayMailer string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errors.New("empty")
	}
	if strings.Contains(v, "$") {
		return "", errors.New("uses sendmail macros, which postern cannot expand")
	}
	mailer, host := splitMailer(v)
	m := strings.ToLower(mailer)
	if m == "" && relayMailer != "" && !smtpMailers[strings.ToLower(relayMailer)] {
		return "", fmt.Errorf("without a mailer it goes by confRELAY_MAILER %s, which is not an SMTP mailer", relayMailer)
	}
	switch {
	case m == "":
	case smtpMailers[m]:
	case m == "error":
		return "", errors.New("the error mailer bounces all mail for other domains; postern has no such setting (list the domains in the mailertable with error: instead)")
	case m == "local":
		return "", errors.New("the local mailer keeps all mail for other domains on this host; postern has no such setting")
	default:
		return "", fmt.Errorf("mailer %s is not an SMTP mailer; postern's smarthost speaks SMTP", mailer)
	}
	if strings.Contains(host, "@") {
		return "", errors.New("user@host sends all mail for other domains to one address; postern's smarthost is a host")
	}
	if host == "" {
		return "", errors.New("no host after the mailer")
	}
	bracket := strings.HasPrefix(host, "[")
	name := host
	if bracket {
		j := strings.IndexByte(host, ']')
		if j < 0 {
			return "", errors.New("missing ']'")
		}
		name = host[1:j]
		if rest := host[j+1:]; rest != "" {
			return "", colonList(host, rest)
		}
	} else if i := strings.IndexByte(host, ':'); i >= 0 {
		return "", colonList(host, host[i:])
	}
	if a, err := netip.ParseAddr(strings.TrimPrefix(name, "IPv6:")); err == nil {
		if a.Zone() != "" {
			return "", errors.New("a zoned address cannot be a smarthost")
		}
		// An address is always used as is, with or without brackets.
		if a.Is6() && !a.Is4In6() {
			return "[IPv6:" + a.String() + "]", nil
		}
		return "[" + a.Unmap().String() + "]", nil
	}
	n, err := hostName(name)
	if err != nil {
		return "", err
	}
	if bracket {
		return "[" + n + "]", nil
	}
	return n, nil
}

// hostName normalises a host name as both postern's configuration and its
// SMTP client take it.
func hostName(s string) (string, error) {
	n, err := config.NormalizeDomain(s)
	if err != nil {
		return "", err
	}
	if _, err := smtp.NormalizeDomain(n); err != nil {
		return "", err
	}
	return n, nil
}

// colonList explains a ':' after the host: sendmail reads it as a list
// of hosts tried in order; postern has one smarthost.
func colonList(host, rest string) error {
	if p := strings.TrimPrefix(rest, ":"); isDigits(p) {
		return fmt.Errorf("sendmail reads %q as a list of two hosts, %s and %s, not as a port; if a port was meant, set smarthost = \"%s:%s\" by hand", host, strings.TrimSuffix(host, rest), p, strings.TrimSuffix(host, rest), p)
	}
	return fmt.Errorf("%q is a list of hosts tried in turn; postern takes one smarthost (put the others in the smarthost's MX records, or choose one)", host)
}

// luserRelay turns a LUSER_RELAY value into postern's [delivery]
// luser_relay. sendmail's forms (proto.m4, rulesets 5 and CanonLocal):
//
//	local:user           the local user "user" gets the mail
//	local:user@host      the same: the host part is ignored
//	relay:user@host      (any mailer) the address user@host gets it
//	relay:host, host     the unknown user's name at that host: joe@host
//	error:5.1.1:550 ...  unknown users are refused with that reply
//
// postern's luser_relay is one address or one local user, so the last
// two forms are errors.
func luserRelay(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errors.New("empty")
	}
	if strings.Contains(v, "$") {
		return "", errors.New("uses sendmail macros, which postern cannot expand")
	}
	mailer, rest := splitMailer(v)
	rest = strings.TrimSpace(rest)
	switch m := strings.ToLower(mailer); {
	case m == "error":
		return "", errors.New("unknown users get sendmail's error reply; leave luser_relay unset: postern then refuses unknown users at RCPT with 550 5.1.1")
	case m == "local":
		if rest == "" {
			return "", errors.New("local: without a user delivers to the unknown user itself; leave luser_relay unset")
		}
		user, _, _ := strings.Cut(rest, "@")
		if !validLocalUser(user) {
			return "", fmt.Errorf("%q is not a plain user name", user)
		}
		return user, nil
	case m == "":
		return "", errors.New("a host sends each unknown user's mail to the same name at that host; postern's luser_relay is one address")
	default:
		local, dom, ok := strings.Cut(rest, "@")
		if !ok {
			return "", fmt.Errorf("%s sends each unknown user's mail to the same name at that host; postern's luser_relay is one address", v)
		}
		if !smtpMailers[m] {
			return "", fmt.Errorf("mailer %s is not an SMTP mailer", mailer)
		}
		if !validLocalUser(local) || strings.Contains(dom, "@") {
			return "", fmt.Errorf("%q is not one address", rest)
		}
		n, err := hostName(dom)
		if err != nil || strings.HasPrefix(dom, "[") {
			return "", fmt.Errorf("%q: the domain must be a host name", rest)
		}
		return local + "@" + n, nil
	}
}

// validLocalUser is what postern's luser_relay takes as a local part.
func validLocalUser(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t,<>\"@:;()[]\\") && strings.IndexFunc(s, func(r rune) bool { return r < 0x21 || r == 0x7f }) < 0
}

// mailFilter is one [[milter]] table of the import.
type mailFilter struct {
	name, socket, flags, timeouts string
	line                          int    // of the MAIL_FILTER or INPUT_MAIL_FILTER
	source                        string // that line, for the config comment
}

// sendmailMilterTimeouts are sendmail's defaults for T= (op.me, "Input
// Mail Filters"): connect 5m, send 10s, read 10s, end of message 5m.
// They are written out in full, since postern's own connect default is
// shorter.
var sendmailMilterTimeouts = [4]struct {
	letter byte
	def    time.Duration
}{{'C', 5 * time.Minute}, {'S', 10 * time.Second}, {'R', 10 * time.Second}, {'E', 5 * time.Minute}}

// parseMailFilter reads MAIL_FILTER's equates ("S=unix:/x, F=T,
// T=S:4m;R:4m") into a [[milter]] table.
func parseMailFilter(name, equates string) (mailFilter, error) {
	m := mailFilter{name: strings.TrimSpace(name)}
	if m.name == "" {
		return m, errors.New("the filter has no name")
	}
	var socket, flags, timeouts string
	seen := map[byte]bool{}
	for _, f := range strings.Split(equates, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		k = strings.TrimSpace(k)
		if !ok || len(k) != 1 {
			return m, fmt.Errorf("%q is not one of S=, F=, T=", f)
		}
		c := k[0] &^ 0x20
		if seen[c] {
			return m, fmt.Errorf("%s= is given twice", k)
		}
		seen[c] = true
		v = strings.TrimSpace(v)
		switch c {
		case 'S':
			socket = v
		case 'F':
			flags = v
		case 'T':
			timeouts = v
		default:
			return m, fmt.Errorf("%s= has no postern equivalent", k)
		}
	}
	if socket == "" {
		return m, errors.New("no socket (S=)")
	}
	s, err := spec.ParseSocket(socket)
	if err != nil {
		return m, err
	}
	m.socket = s.String()
	// F= is a set of letters in sendmail; postern takes T, R or none.
	if _, err := spec.ParseFlags(flags); err != nil {
		return m, err
	}
	m.flags = flags
	if m.timeouts, err = milterTimeouts(timeouts); err != nil {
		return m, err
	}
	return m, nil
}

// milterTimeouts checks sendmail's T= value and writes it with every
// letter, sendmail's defaults filling those left out.
func milterTimeouts(v string) (string, error) {
	if _, err := spec.ParseTimeouts(v); err != nil {
		return "", err
	}
	given := map[byte]string{}
	for _, part := range strings.Split(v, ";") {
		k, t, ok := strings.Cut(strings.TrimSpace(part), ":")
		if ok && len(strings.TrimSpace(k)) == 1 {
			given[strings.TrimSpace(k)[0]&^0x20] = strings.TrimSpace(t)
		}
	}
	parts := make([]string, 0, 4)
	for _, d := range sendmailMilterTimeouts {
		t, ok := given[d.letter]
		if !ok {
			t = fmtDuration(d.def)
		}
		parts = append(parts, string(d.letter)+":"+t)
	}
	return strings.Join(parts, ";"), nil
}

// fmtDuration writes d in sendmail's units: 5m, 10s, 1h.
func fmtDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// splitFilterList splits confINPUT_MAIL_FILTERS: names separated by
// commas and spaces.
func splitFilterList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// inputMailFilters follows the .mc in order as m4 does (cfhead.m4):
// MAIL_FILTER defines a filter, INPUT_MAIL_FILTER defines it and appends
// its name to confINPUT_MAIL_FILTERS, and a define of
// confINPUT_MAIL_FILTERS replaces the list so far. sendmail then calls
// only the filters named in that list, in its order (cf/README "ADDING
// NEW MAIL FILTERS"); a filter defined but not named is not used.
func inputMailFilters(cfg *Config, im *Imported) []mailFilter {
	defs := map[string]Call{} // the last definition of each name
	var list []string
	listLine := 0
	for _, c := range cfg.Calls {
		switch c.Name {
		case "MAIL_FILTER", "INPUT_MAIL_FILTER":
			name := strings.TrimSpace(c.Arg(0))
			defs[name] = c
			if c.Name == "INPUT_MAIL_FILTER" {
				list = append(list, name)
			}
		case "define", "undefine":
			if strings.TrimSpace(c.Arg(0)) != "confINPUT_MAIL_FILTERS" {
				continue
			}
			list = nil
			if c.Name == "define" {
				list = splitFilterList(c.Arg(1))
			}
			listLine = c.Line
		}
	}
	var out []mailFilter
	used := map[string]bool{}
	for _, name := range list {
		if used[name] {
			continue
		}
		used[name] = true
		call, ok := defs[name]
		if !ok {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: listLine,
				Text: "confINPUT_MAIL_FILTERS names " + name + ", which no MAIL_FILTER or INPUT_MAIL_FILTER defines"})
			continue
		}
		raw := call.Name + "(`" + call.Arg(0) + "', `" + call.Arg(1) + "')"
		m, err := parseMailFilter(name, call.Arg(1))
		if err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: call.Line,
				Text: oneLine(raw) + ": not written as a [[milter]]: " + err.Error() + "; add the milter by hand"})
			continue
		}
		m.line = call.Line
		m.source = fmt.Sprintf("from %s line %d: %s", cfg.File, call.Line, raw)
		if listLine > 0 {
			m.source += fmt.Sprintf(" (used as named in confINPUT_MAIL_FILTERS, line %d)", listLine)
		}
		out = append(out, m)
	}
	for _, c := range cfg.Calls {
		if c.Name == "define" && strings.HasPrefix(strings.TrimSpace(c.Arg(0)), "confMILTER_MACROS_") && len(out) > 0 {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: c.Line,
				Text: strings.TrimSpace(c.Arg(0)) + ": postern sends sendmail's default macros to milters (see milter.md); this list is not carried over"})
		}
		if c.Name != "MAIL_FILTER" && c.Name != "INPUT_MAIL_FILTER" {
			continue
		}
		if name := strings.TrimSpace(c.Arg(0)); !used[name] && defs[name].Line == c.Line {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: c.Line,
				Text: c.Name + "(`" + name + "'): not named in confINPUT_MAIL_FILTERS, so sendmail does not call it for incoming mail; not written"})
		}
	}
	return out
}

// messageSizeLimit turns confMAX_MESSAGE_SIZE into max_message_bytes.
func messageSizeLimit(v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a number of bytes", v)
	case n <= 0:
		return 0, errors.New("sendmail takes 0 or less as no limit; postern always has one (default 36700160 bytes)")
	case n < 65536:
		// RFC 5321 4.5.3.1.7: the maximum message size is at least 64K octets.
		return 0, errors.New("below the 65536 bytes RFC 5321 4.5.3.1.7 requires, which postern's minimum is")
	}
	return n, nil
}

// recipientLimit turns confMAX_RCPTS_PER_MESSAGE into max_recipients.
func recipientLimit(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a number", v)
	case n <= 0:
		return 0, errors.New("sendmail takes 0 or less as no limit; postern always has one (default 100)")
	}
	return n, nil
}

// oneLine keeps a value on one line for a comment or a note.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// masquerading turns MASQUERADE_AS, MASQUERADE_DOMAIN, EXPOSED_USER and
// FEATURE(`masquerade_entire_domain') of a .mc into the [delivery]
// masquerade keys, each line with its source comment. A .cf's classes M
// and E are not read, so a .cf's masquerading is listed instead.
func masquerading(cfg *Config, im *Imported) []string {
	s := cfg.Masquerade
	if s.Value == "" {
		return nil
	}
	list := func(text string) {
		im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: s.Line, Text: text})
	}
	if cfg.Kind != "mc" {
		list("masquerading ($M " + oneLine(s.Value) + ") of a sendmail.cf is not carried over (its classes M and E are not read): import the sendmail.mc, or set [delivery] masquerade_as by hand")
		return nil
	}
	if strings.Contains(s.Value, "$") {
		list("MASQUERADE_AS " + oneLine(s.Value) + ": not written: uses sendmail macros, which postern cannot expand")
		return nil
	}
	as, err := config.NormalizeDomain(s.Value)
	if err != nil {
		list("MASQUERADE_AS " + oneLine(s.Value) + ": not written: " + err.Error())
		return nil
	}
	out := []string{fmt.Sprintf("# from %s line %d: MASQUERADE_AS(`%s')", cfg.File, s.Line, oneLine(s.Value)), "masquerade_as = " + tomlString(as)}
	var domains, exposed []string
	var domainSrc, exposedSrc []string
	for _, c := range cfg.Calls {
		switch c.Name {
		case "MASQUERADE_DOMAIN", "EXPOSED_USER":
			for _, v := range strings.Fields(c.Arg(0)) {
				if c.Name == "EXPOSED_USER" {
					if !validLocalUser(v) {
						im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: c.Line, Text: "EXPOSED_USER " + oneLine(v) + ": not a user name; not written"})
						continue
					}
					exposed = appendUnique(exposed, v)
					continue
				}
				n, err := config.NormalizeDomain(v)
				if err != nil {
					im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: c.Line, Text: "MASQUERADE_DOMAIN " + oneLine(v) + ": not written: " + err.Error()})
					continue
				}
				domains = appendUnique(domains, n)
			}
			src := fmt.Sprintf("line %d", c.Line)
			if c.Name == "EXPOSED_USER" {
				exposedSrc = append(exposedSrc, src)
			} else {
				domainSrc = append(domainSrc, src)
			}
		case "MASQUERADE_DOMAIN_FILE", "MASQUERADE_EXCEPTION", "MASQUERADE_EXCEPTION_FILE", "EXPOSED_USER_FILE":
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: c.Line,
				Text: c.Name + "(" + oneLine(strings.Join(c.Args, ", ")) + "): not carried over; list the names in [delivery] masquerade_domains or masquerade_exposed by hand"})
		}
	}
	if len(domains) > 0 {
		out = append(out, fmt.Sprintf("# from %s MASQUERADE_DOMAIN, %s", cfg.File, strings.Join(domainSrc, ", ")), "masquerade_domains = "+tomlList(domains))
	}
	if f, ok := cfg.Features["masquerade_entire_domain"]; ok {
		out = append(out, fmt.Sprintf("# from %s line %d: FEATURE(`masquerade_entire_domain')", cfg.File, f.Line), "masquerade_entire_domain = true")
		im.Changed = append(im.Changed, Note{File: cfg.File, Line: f.Line,
			Text: "FEATURE(`masquerade_entire_domain'): postern masquerades the subdomains of the local domains too, sendmail only those of MASQUERADE_DOMAIN"})
	}
	// sendmail 8.10 and later expose nobody unless EXPOSED_USER says so;
	// postern's default exposes root, so the list is always written.
	if len(exposedSrc) > 0 {
		out = append(out, fmt.Sprintf("# from %s EXPOSED_USER, %s", cfg.File, strings.Join(exposedSrc, ", ")))
	} else {
		out = append(out, "# sendmail exposes no user unless EXPOSED_USER names one")
	}
	out = append(out, "masquerade_exposed = "+tomlList(exposed))
	if _, ok := cfg.Features["masquerade_envelope"]; !ok {
		im.Changed = append(im.Changed, Note{File: cfg.File, Line: s.Line,
			Text: "MASQUERADE_AS " + as + ": sendmail masqueraded header addresses only (no FEATURE(`masquerade_envelope')); postern also rewrites the envelope sender of mail from local users"})
	}
	return out
}
