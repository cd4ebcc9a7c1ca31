package maps

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

var knownTags = []string{TagConnect, TagFrom, TagTo, TagClientRate, TagClientConn, TagTryTLS,
	TagSrvFeatures, TagTLSClt, TagTLSSrv, TagCertIssuer, TagCertSubject}

// ParseAccess reads an access map in sendmail's text form: one entry per
// line, "[Tag:]key value", '#' comments and blank lines. name is used in
// error messages and Source. All errors are returned at once.
func ParseAccess(name string, r io.Reader) (*Access, error) {
	el := &errList{file: name}
	a := &Access{tags: make(map[string]*accessKeys), file: name}
	text, rerr := readText(r)
	a.presize(text)
	eachLineOf(text, rerr, el, func(ln rawLine) {
		if skippable(ln.text) {
			return
		}
		key, val := splitKV(ln.text)
		if val == "" {
			el.add(ln.n, "key %q has no value", key)
			return
		}
		a.parseLine(el, ln.n, key, val)
	})
	a.scratch = AccessEntry{}
	if err := el.err(); err != nil {
		return nil, err
	}
	return a, nil
}

// parseLine adds one entry: its tag, its value (checked for the tag),
// then its key, a tag's default (no key), a network or a name.
func (a *Access) parseLine(el *errList, line int, key, val string) {
	src := Source{File: el.file, Line: line}
	tag, rest, ok := splitTag(key)
	if !ok && a.otherTag(el, src, key) {
		return
	}
	e := &a.scratch
	*e = AccessEntry{Tag: tag, Source: src}
	if err := parseValue(e, val); err != nil {
		el.add(line, "%s", err)
		return
	}
	keys := a.tags[tag]
	if keys == nil {
		keys = &accessKeys{names: make(map[string]int32)}
		a.tags[tag] = keys
	}
	if rest == "" {
		a.addDefault(el, keys, e)
		return
	}
	a.addKey(el, keys, e, key, rest)
}

// otherTag handles a key with a tag postern does not use: a tag of
// sendmail's that postern ignores gives a warning, another word before
// a ':' an error, unless the key is a network (IPv6). It reports whether
// the entry is done with.
func (a *Access) otherTag(el *errList, src Source, key string) bool {
	i := strings.IndexByte(key, ':')
	if i <= 0 {
		return false
	}
	t := key[:i]
	for _, ig := range ignoredTags {
		if strings.EqualFold(t, ig) {
			a.warnings = append(a.warnings, Warning{src, fmt.Sprintf("tag %s: is not used by postern; entry ignored", ig)})
			return true
		}
	}
	if isTagWord(t) {
		if _, isNet, _ := parseNetKey(key); !isNet {
			el.add(src.Line, "unknown tag %q", t+":")
			return true
		}
	}
	return false
}

// parseValue reads the value of e as its tag wants it.
func parseValue(e *AccessEntry, val string) error {
	if ok, err := parsePeerValue(e, val); ok {
		return err
	}
	var err error
	switch e.Tag {
	case TagClientRate, TagClientConn:
		e.Number, err = parseCount(val)
	case TagTryTLS:
		e.TLS, err = parseTLSPolicy(val)
	default:
		err = parseAction(e, val)
	}
	return err
}

// addDefault adds the entry of a tag without a key, which only the
// numeric and Try_TLS tags have.
func (a *Access) addDefault(el *errList, keys *accessKeys, e *AccessEntry) {
	line, tag := e.Source.Line, e.Tag
	if tag != TagClientRate && tag != TagClientConn && tag != TagTryTLS && tag != TagSrvFeatures {
		el.add(line, "empty key")
		return
	}
	if keys.hasDef {
		el.add(line, "duplicate default %s: entry (first at line %d)", tag, a.recs[keys.def].line)
		return
	}
	keys.def, keys.hasDef = a.add(e), true
}

// addKey adds the entry under rest, the key without its tag: a network,
// or else a name (nameKey). key is the key as written, for errors.
func (a *Access) addKey(el *errList, keys *accessKeys, e *AccessEntry, key, rest string) {
	line, tag := e.Source.Line, e.Tag
	if isCertTag(tag) {
		a.addCertKey(el, keys, e, key, rest)
		return
	}
	p, isNet, err := parseNetKey(rest)
	if err != nil {
		el.add(line, "%s", err)
		return
	}
	if isNet {
		e.Key = netKeyString(p, rest)
		if old, dup := keys.nets.put(p, int32(len(a.recs))); dup {
			el.add(line, "duplicate key %q (first at line %d)", key, a.recs[old].line)
			return
		}
		a.add(e)
		a.warn(e)
		return
	}
	if tag == TagClientRate || tag == TagClientConn {
		el.add(line, "%s: keys are IP addresses or networks, not %q", tag, rest)
		return
	}
	nk, err := a.nameKey(tag, rest, e)
	if err != nil {
		el.add(line, "%s", err)
		return
	}
	e.Key = nk
	if a.addName(el, keys, e, key, nk) {
		a.warn(e)
	}
}

// addCertKey adds a CertIssuer: or CertSubject: entry under its DN.
func (a *Access) addCertKey(el *errList, keys *accessKeys, e *AccessEntry, key, rest string) {
	nk, err := certKey(rest)
	if err != nil {
		el.add(e.Source.Line, "%s", err)
		return
	}
	e.Key = rest
	a.addName(el, keys, e, key, nk)
}

// addName adds e under the name nk, unless another entry has it; key is
// the key as written, for the error. It reports whether e was added.
func (a *Access) addName(el *errList, keys *accessKeys, e *AccessEntry, key, nk string) bool {
	if old, dup := keys.names[nk]; dup {
		el.add(e.Source.Line, "duplicate key %q (first at line %d)", key, a.recs[old].line)
		return false
	}
	keys.names[nk] = a.add(e)
	return true
}

// nameKey validates and normalises a non-network key.
func (a *Access) nameKey(tag, k string, e *AccessEntry) (string, error) {
	if k == "<>" {
		if tag != TagFrom && tag != "" {
			return "", fmt.Errorf("the null sender key <> is for From: only")
		}
		return k, nil
	}
	if strings.HasPrefix(k, "[") {
		if _, err := parseLiteral(k); err == nil {
			return normDomainOrLiteral(k)
		}
		// sendmail's literal prefix form, e.g. From:[192.0.2]
		in := k[1 : len(k)-1]
		if strings.HasSuffix(k, "]") {
			if p, isNet, err := parseNetKey(in); err == nil && isNet && p.Addr().Is4() && !strings.Contains(in, "/") {
				return k, nil
			}
		}
		return "", fmt.Errorf("bad address literal %q", k)
	}
	if local, domain, ok := splitAddress(k); ok {
		if isHostTag(tag) {
			return "", fmt.Errorf("%s: keys are host names or addresses, not mail addresses (%q)", tag, k)
		}
		if e.Action == ActionSkip {
			return "", fmt.Errorf("SKIP applies only to host names, domains and networks, not %q", k)
		}
		if local == "" {
			return "", fmt.Errorf("key %q: write the domain without '@'", k)
		}
		if strings.ContainsAny(local, " \t") {
			return "", fmt.Errorf("key %q: blank in local part", k)
		}
		local = strings.ToLower(local)
		if domain == "" {
			return local + "@", nil
		}
		d, err := normDomainOrLiteral(domain)
		if err != nil {
			return "", fmt.Errorf("key %q: %v", k, err)
		}
		return local + "@" + d, nil
	}
	d, err := normDomain(k)
	if err != nil {
		return "", fmt.Errorf("key %q: %v", k, err)
	}
	return d, nil
}

func (a *Access) warn(e *AccessEntry) {
	if e.Action != ActionRelay {
		return
	}
	switch e.Tag {
	case TagFrom:
		a.warnings = append(a.warnings, Warning{e.Source, fmt.Sprintf(
			"From:%s RELAY relays on a forgeable sender; honoured only with allow_sender_relay = true", e.Key)})
	case "":
		a.warnings = append(a.warnings, Warning{e.Source, fmt.Sprintf(
			"untagged %s RELAY also applies to sender (From) lookups; write Connect:%s or To:%s instead", e.Key, e.Key, e.Key)})
	}
}

// splitTag recognises one of the tags postern uses.
func splitTag(key string) (tag, rest string, ok bool) {
	for _, t := range knownTags {
		if len(key) > len(t) && key[len(t)] == ':' && strings.EqualFold(key[:len(t)], t) {
			return t, key[len(t)+1:], true
		}
	}
	return "", key, false
}

func isTagWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return s != "" && !strings.EqualFold(s, "ipv6")
}

func netKeyString(p netip.Prefix, written string) string {
	if p.Addr().Is4() && !strings.Contains(written, "/") {
		return strings.TrimSuffix(written, ".")
	}
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func parseCount(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1<<30 {
		return 0, fmt.Errorf("value %q is not a count (a number from 0)", v)
	}
	return n, nil
}

func parseTLSPolicy(v string) (TLSPolicy, error) {
	switch strings.ToUpper(v) {
	case "NO", "NEVER":
		return TLSNever, nil
	case "YES", "MAY":
		return TLSMay, nil
	case "REQUIRED", "ENCRYPT", "MUST":
		return TLSRequired, nil
	}
	return 0, fmt.Errorf("Try_TLS value %q: want NO (never), MAY or REQUIRED", v)
}

// isDSN reports whether s is an enhanced status code as an access entry
// writes it (RFC 3463 2): class 2, 4 or 5, then a subject and a detail of
// one to three digits each, such as 5.7.1.
func isDSN(s string) bool {
	if len(s) < 5 || s[0] != '2' && s[0] != '4' && s[0] != '5' || s[1] != '.' {
		return false
	}
	subject, detail, ok := strings.Cut(s[2:], ".")
	return ok && len(subject) <= 3 && isDigits(subject) && len(detail) <= 3 && isDigits(detail)
}

// parseAction reads the value of a Connect/From/To or untagged entry.
func parseAction(e *AccessEntry, v string) error {
	up := strings.ToUpper(v)
	switch up {
	case "OK":
		e.Action = ActionOK
		return nil
	case "RELAY":
		e.Action = ActionRelay
		return nil
	case "REJECT":
		e.Action = ActionReject
		return nil
	case "DISCARD":
		e.Action = ActionDiscard
		return nil
	case "SKIP":
		e.Action = ActionSkip
		return nil
	}
	if strings.HasPrefix(up, "QUARANTINE:") {
		e.Action = ActionQuarantine
		e.Text = strings.TrimSpace(unquote(v[len("QUARANTINE:"):]))
		if e.Text == "" {
			return fmt.Errorf("QUARANTINE: needs a reason")
		}
		return nil
	}
	rest := v
	if strings.HasPrefix(up, "ERROR:") {
		rest = v[len("ERROR:"):]
	} else if len(unquote(v)) < 3 || !isDigits(unquote(v)[:3]) {
		return fmt.Errorf("unknown value %q: want OK, RELAY, REJECT, DISCARD, SKIP, QUARANTINE:reason or ERROR:[D.S.N:]### text", v)
	}
	code, enh, text, err := parseErrorValue(rest)
	if err != nil {
		return err
	}
	e.Action, e.Code, e.Enhanced, e.Text = ActionError, code, enh, text
	return nil
}

// parseErrorValue parses "[D.S.N:]### text", with the reply part
// optionally in double quotes, and checks that the classes agree.
func parseErrorValue(s string) (code int, enh, text string, err error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ':'); i > 0 && isDSN(s[:i]) {
		enh, s = s[:i], strings.TrimSpace(s[i+1:])
	} else if i > 0 && !strings.HasPrefix(s, "\"") && !strings.ContainsAny(s[:i], " \t") && strings.Count(s[:i], ".") == 2 {
		return 0, "", "", fmt.Errorf("bad enhanced status code %q", s[:i])
	}
	s = unquote(s)
	if len(s) < 3 || !isDigits(s[:3]) || (len(s) > 3 && s[3] != ' ' && s[3] != '\t') {
		return 0, "", "", fmt.Errorf("error value %q: want a reply code such as 550 followed by text", s)
	}
	code, _ = strconv.Atoi(s[:3])
	// RFC 5321 4.2.1: only 4yz (transient) and 5yz (permanent) refuse.
	if code < 400 || code > 599 {
		return 0, "", "", fmt.Errorf("reply code %d is not 4xx or 5xx", code)
	}
	// RFC 3463 2: the class of the enhanced code matches the reply's first digit.
	if enh != "" && enh[0] != s[0] {
		return 0, "", "", fmt.Errorf("enhanced code %s does not match reply code %d", enh, code)
	}
	text = strings.TrimSpace(s[3:])
	return code, enh, text, nil
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
