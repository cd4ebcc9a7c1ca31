package sendmailcf

import (
	"errors"
	"fmt"
	"strings"

	"postern/internal/dnsbl"
)

// dnsblList is one [[checks.dnsbl.list]] of the import.
type dnsblList struct {
	zone, reply, onError string
	codes                []string
	source               string
}

// importDNSBL turns FEATURE(`dnsbl') and FEATURE(`enhdnsbl') into
// [checks.dnsbl] lists, in the order of the .mc. The features are read
// from the calls, since a .mc may use each several times.
//
// sendmail's arguments (cf/feature/dnsbl.m4 and enhdnsbl.m4): the zone;
// the reply ("" for "550 Rejected: $&{client_addr} listed at zone", or
// quarantine / discard); "t" to answer 451 when the lookup fails ("" lets
// the client on, other text is a reply of its own); for enhdnsbl, up to
// six answers that count (none: any answer).
func importDNSBL(cfg *Config, im *Imported) (lists []dnsblList, stage string) {
	for _, c := range cfg.Calls {
		name := strings.TrimSpace(c.Arg(0))
		if c.Name != "FEATURE" || (name != "dnsbl" && name != "enhdnsbl") {
			continue
		}
		raw := "FEATURE(`" + strings.Join(c.Args, "', `") + "')"
		l, changes, err := dnsblFeature(name, c.Args[1:])
		if err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: c.Line, Text: oneLine(raw) + ": not written: " + err.Error()})
			continue
		}
		for _, ch := range changes {
			im.Changed = append(im.Changed, Note{File: cfg.File, Line: c.Line, Text: oneLine(raw) + ": " + ch})
		}
		l.source = oneLine(fmt.Sprintf("from %s line %d: %s", cfg.File, c.Line, raw))
		lists = append(lists, l)
	}
	if len(lists) == 0 {
		return nil, ""
	}
	// Without delay_checks sendmail refuses a listed client's whole
	// session (check_relay); with it, at each RCPT.
	if _, ok := cfg.Features["delay_checks"]; ok {
		return lists, "rcpt"
	}
	return lists, "connect"
}

// dnsblFeature reads the arguments after the feature name.
func dnsblFeature(name string, args []string) (dnsblList, []string, error) {
	arg := func(i int) string {
		if i < len(args) {
			return strings.TrimSpace(args[i])
		}
		return ""
	}
	var l dnsblList
	var changes []string
	l.zone = strings.TrimSuffix(arg(0), ".")
	if l.zone == "" {
		return l, nil, errors.New("no zone")
	}
	if err := dnsbl.CheckZone(l.zone); err != nil {
		return l, nil, err
	}
	switch msg := arg(1); msg {
	case "":
		// sendmail's default text is postern's default.
	case "quarantine", "discard":
		return l, nil, fmt.Errorf("postern refuses listed clients; it does not %s their mail", msg)
	default:
		text, err := dnsblReply(msg)
		if err != nil {
			return l, nil, err
		}
		l.reply = text
	}
	switch t := arg(2); t {
	case "":
		l.onError = "ignore"
	case "t":
		l.onError = "tempfail"
	default:
		l.onError = "tempfail"
		changes = append(changes, "a failed lookup is answered 451 with postern's own text, not "+oneLine(t))
	}
	if name == "dnsbl" {
		if len(args) > 3 {
			return l, nil, errors.New("FEATURE(`dnsbl') takes three arguments")
		}
		changes = append(changes, "sendmail counted any answer of the list as listed; postern counts 127.0.0.x answers only, so that a list's error answers (such as 127.255.255.254) do not refuse everyone; sendmail also asked about IPv4 clients only")
		return l, changes, nil
	}
	for i := 3; i < len(args); i++ {
		a := arg(i)
		if a == "" {
			continue
		}
		if i > 8 {
			return l, nil, errors.New("enhdnsbl takes at most six answers")
		}
		code, err := enhdnsblCode(a)
		if err != nil {
			return l, nil, err
		}
		l.codes = append(l.codes, code)
	}
	if len(l.codes) == 0 {
		changes = append(changes, "sendmail counted any answer of the list as listed; postern counts 127.0.0.x answers only, so that a list's error answers (such as 127.255.255.254) do not refuse everyone; sendmail also asked about IPv4 clients only")
	} else {
		changes = append(changes, "sendmail asked about IPv4 clients only; postern asks about IPv6 clients too")
	}
	return l, changes, nil
}

// enhdnsblCode turns one enhdnsbl answer pattern, a rule left-hand side
// such as "127.0.0.2." or "127.0.0.$-.", into postern's code syntax.
func enhdnsblCode(a string) (string, error) {
	octets := strings.Split(strings.TrimSuffix(a, "."), ".")
	if len(octets) != 4 {
		return "", fmt.Errorf("answer %q is not an address pattern postern can read", a)
	}
	for i, o := range octets {
		switch {
		case o == "$-":
			octets[i] = "*"
		case isDigits(o) && len(o) <= 3:
		default:
			return "", fmt.Errorf("answer %q: %q is not a number or $-", a, o)
		}
	}
	code := strings.Join(octets, ".")
	if _, err := dnsbl.ParseCodes([]string{code}); err != nil {
		return "", err
	}
	return code, nil
}

// dnsblReply turns sendmail's reply argument, quoted strings and
// $&{client_addr} such as `"550 Mail from " $&{client_addr} " refused"`,
// into postern's reply text, without the reply code postern sets itself.
func dnsblReply(msg string) (string, error) {
	var b strings.Builder
	s := strings.TrimSpace(msg)
	for s != "" {
		switch {
		case s[0] == '"':
			j := strings.IndexByte(s[1:], '"')
			if j < 0 {
				return "", errors.New("the reply has an unclosed quote")
			}
			b.WriteString(s[1 : j+1])
			s = s[j+2:]
		case strings.HasPrefix(s, "$&{client_addr}"):
			b.WriteString("{ip}")
			s = s[len("$&{client_addr}"):]
		case s[0] == ' ' || s[0] == '\t':
			s = s[1:]
		default:
			return "", fmt.Errorf("the reply uses %q, which postern cannot fill in (only quoted text and $&{client_addr})", strings.Fields(s)[0])
		}
	}
	text := strings.TrimSpace(b.String())
	// The reply code and enhanced status code are postern's: 550 5.7.1.
	if f := strings.Fields(text); len(f) > 0 && len(f[0]) == 3 && isDigits(f[0]) {
		if f[0][0] != '5' {
			return "", fmt.Errorf("reply code %s: postern refuses listed clients with 5xx", f[0])
		}
		text = strings.TrimSpace(text[3:])
		if g := strings.Fields(text); len(g) > 0 && strings.Count(g[0], ".") == 2 && isDigits(strings.ReplaceAll(g[0], ".", "")) {
			text = strings.TrimSpace(text[len(g[0]):])
		}
	}
	if text == "" {
		return "", errors.New("the reply has no text")
	}
	if err := dnsbl.CheckReply(text); err != nil {
		return "", err
	}
	return text, nil
}
