package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// STSPolicy is a parsed MTA-STS policy file (RFC 8461 3.2).
type STSPolicy struct {
	Mode   string   // "enforce", "testing" or "none"
	MX     []string // patterns, lower case, e.g. "mx.example.org" or "*.example.net"
	MaxAge int64    // seconds
	// Notes are oddities that do not make the policy invalid, such as a
	// field given twice.
	Notes []string
}

// stsMaxAge is the largest max_age (RFC 8461 3.2: 31557600, about a year).
const stsMaxAge = 31557600

// stsMaxPolicy bounds the policy file (RFC 8461 3.3: senders may limit
// the size; 64 KB is what they use in practice).
const stsMaxPolicy = 64 << 10

// ParseSTSPolicy parses an MTA-STS policy file strictly, as RFC 8461 3.2
// defines it: "key: value" lines ended by CRLF or LF; version, mode and
// max_age once each, one or more mx (unless mode is none); unknown keys
// ignored.
func ParseSTSPolicy(body string) (*STSPolicy, error) {
	if len(body) > stsMaxPolicy {
		return nil, fmt.Errorf("policy is %d bytes, over %d", len(body), stsMaxPolicy)
	}
	p := &STSPolicy{MaxAge: -1}
	version := false
	seen := map[string]bool{}
	lines := strings.Split(body, "\n")
	// RFC 8461 3.2: the last line may end with a line break or not.
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		n := i + 1
		// RFC 8461 3.2: sts-policy-term-delim = CRLF / LF.
		line = strings.TrimSuffix(line, "\r")
		if strings.Trim(line, " \t") == "" {
			// Not in the grammar, but senders skip blank lines.
			p.Notes = append(p.Notes, fmt.Sprintf("line %d: blank line, ignored", n))
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: no \"key: value\": %q", n, clip(line))
		}
		if !isSTSKey(key) {
			return nil, fmt.Errorf("line %d: bad key %q", n, clip(key))
		}
		// RFC 8461 3.2: sts-policy-field-delim = ":" *WSP; trailing
		// WSP follows each field.
		val = strings.Trim(val, " \t")
		if val == "" {
			return nil, fmt.Errorf("line %d: %s has no value", n, key)
		}
		for _, r := range val {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return nil, fmt.Errorf("line %d: control character in %s", n, key)
			}
		}
		if key != "mx" && seen[key] {
			// Only the first instance counts, as for any key=value list.
			p.Notes = append(p.Notes, fmt.Sprintf("line %d: %s given again, ignored", n, key))
			continue
		}
		seen[key] = true
		// RFC 8461 3.2: keys and the version and mode values are
		// case-sensitive (%s).
		switch key {
		case "version":
			if val != "STSv1" {
				return nil, fmt.Errorf("line %d: version %q, want STSv1", n, clip(val))
			}
			version = true
		case "mode":
			switch val {
			case "enforce", "testing", "none":
				p.Mode = val
			default:
				return nil, fmt.Errorf("line %d: mode %q, want enforce, testing or none", n, clip(val))
			}
		case "max_age":
			// RFC 8461 3.2: 1*10(DIGIT), at most 31557600.
			if len(val) > 10 || strings.Trim(val, "0123456789") != "" {
				return nil, fmt.Errorf("line %d: max_age %q is not a number of seconds", n, clip(val))
			}
			v, _ := strconv.ParseInt(val, 10, 64)
			if v > stsMaxAge {
				return nil, fmt.Errorf("line %d: max_age %d is over the maximum %d", n, v, stsMaxAge)
			}
			p.MaxAge = v
		case "mx":
			pat := strings.ToLower(strings.TrimSuffix(val, "."))
			if err := checkSTSPattern(pat); err != nil {
				return nil, fmt.Errorf("line %d: mx %q: %w", n, clip(val), err)
			}
			p.MX = append(p.MX, pat)
		}
	}
	switch {
	case !version:
		return nil, errors.New("no \"version: STSv1\" line")
	case p.Mode == "":
		return nil, errors.New("no mode line")
	case p.MaxAge < 0:
		return nil, errors.New("no max_age line")
	case len(p.MX) == 0 && p.Mode != "none":
		// RFC 8461 3.2: mx patterns are required except for mode none.
		return nil, errors.New("no mx line")
	}
	return p, nil
}

// isSTSKey checks sts-policy-ext-name (RFC 8461 3.2), which the known
// keys also satisfy: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func isSTSKey(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		alnum := isAlpha(c) || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '_' && c != '-' && c != '.')) {
			return false
		}
	}
	return true
}

// checkSTSPattern checks an mx pattern: a domain, optionally with "*."
// in front (RFC 8461 3.2: sts-policy-mx-value = ["*."] Domain).
func checkSTSPattern(pat string) error {
	d := strings.TrimPrefix(pat, "*.")
	if d == "" || len(d) > 253 {
		return errors.New("not a domain")
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return errors.New("not a domain")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' {
				return fmt.Errorf("character %q not allowed in a host name", c)
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("label starts or ends with a hyphen")
		}
	}
	return nil
}

// Matches reports whether the MX host name matches one of the policy's
// patterns (RFC 8461 4.1: "*." matches exactly one leftmost label).
func (p *STSPolicy) Matches(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			label, parent, found := strings.Cut(h, ".")
			if found && label != "" && parent == rest {
				return true
			}
			continue
		}
		if h == pat {
			return true
		}
	}
	return false
}

// clip shortens text quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
