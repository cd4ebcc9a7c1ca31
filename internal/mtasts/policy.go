// Package mtasts is MTA-STS (RFC 8461): the _mta-sts TXT record, the
// policy file, matching MX hosts against a policy, and fetching the policy
// over HTTPS, the Cache of policies that outbound delivery enforces (kept
// on disk for their max_age), and our own policy file served to others.
// The audit judges a domain's MTA-STS setup with it. Callers pass the
// context, the HTTP client and the resolver.
package mtasts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Mode is a policy's mode (RFC 8461 5).
type Mode string

// The modes a policy may have.
const (
	Enforce Mode = "enforce" // deliver only over TLS to matching MX hosts
	Testing Mode = "testing" // report failures, deliver anyway
	None    Mode = "none"    // no policy
)

// Policy is a parsed MTA-STS policy file (RFC 8461 3.2).
type Policy struct {
	Mode   Mode
	MX     []string // patterns, lower case, e.g. "mx.example.org" or "*.example.net"
	MaxAge int64    // seconds, 0 to MaxAgeLimit
	// Notes are oddities that do not make the policy invalid, such as a
	// field given twice.
	Notes []string
}

// MaxAgeLimit is the largest max_age (RFC 8461 3.2: 31557600, about a
// year).
const MaxAgeLimit = 31557600

// MaxPolicySize bounds the policy file (RFC 8461 3.3: senders may limit
// the size; 64 KB is what they use in practice).
const MaxPolicySize = 64 << 10

// policyFields are the keys RFC 8461 3.2 defines, each with the rule its
// value follows. Keys and the version and mode values are case-sensitive
// (%s); other keys are ignored.
var policyFields = map[string]func(p *Policy, val string) error{
	"version": func(_ *Policy, val string) error {
		if val != "STSv1" {
			return fmt.Errorf("version %q, want STSv1", clip(val))
		}
		return nil
	},
	"mode":    (*Policy).setMode,
	"max_age": (*Policy).setMaxAge,
	"mx":      (*Policy).addMX,
}

// ParsePolicy parses an MTA-STS policy file strictly, as RFC 8461 3.2
// defines it: "key: value" lines ended by CRLF or LF; version, mode and
// max_age once each, one or more mx (unless mode is none); unknown keys
// ignored. Blank lines and repeated keys (but mx) are ignored with a note.
func ParsePolicy(body string) (*Policy, error) {
	if len(body) > MaxPolicySize {
		return nil, fmt.Errorf("policy is %d bytes, over %d", len(body), MaxPolicySize)
	}
	p := &Policy{}
	seen := map[string]bool{}
	lines := strings.Split(body, "\n")
	// RFC 8461 3.2: the last line may end with a line break or not.
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		if err := p.parseLine(i+1, line, seen); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	for _, need := range []struct {
		ok  bool
		err string
	}{
		{seen["version"], "no \"version: STSv1\" line"},
		{seen["mode"], "no mode line"},
		{seen["max_age"], "no max_age line"},
		// RFC 8461 3.2: mx patterns are required except for mode none.
		{len(p.MX) > 0 || p.Mode == None, "no mx line"},
	} {
		if !need.ok {
			return nil, errors.New(need.err)
		}
	}
	return p, nil
}

// parseLine takes line n of the policy into p; seen holds the keys of the
// lines before it.
func (p *Policy) parseLine(n int, line string, seen map[string]bool) error {
	// RFC 8461 3.2: sts-policy-term-delim = CRLF / LF.
	line = strings.TrimSuffix(line, "\r")
	if strings.Trim(line, " \t") == "" {
		// Not in the grammar, but senders skip blank lines.
		p.Notes = append(p.Notes, fmt.Sprintf("line %d: blank line, ignored", n))
		return nil
	}
	key, val, err := splitPolicyLine(line)
	if err != nil {
		return err
	}
	if key != "mx" && seen[key] {
		// Only the first instance counts, as for any key=value list.
		p.Notes = append(p.Notes, fmt.Sprintf("line %d: %s given again, ignored", n, key))
		return nil
	}
	seen[key] = true
	if rule := policyFields[key]; rule != nil {
		return rule(p, val)
	}
	return nil
}

// splitPolicyLine splits a "key: value" line and checks both halves'
// characters.
func splitPolicyLine(line string) (key, val string, err error) {
	key, val, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", fmt.Errorf("no \"key: value\": %q", clip(line))
	}
	if !isFieldName(key) {
		return "", "", fmt.Errorf("bad key %q", clip(key))
	}
	// RFC 8461 3.2: sts-policy-field-delim = ":" *WSP; trailing WSP
	// follows each field.
	val = strings.Trim(val, " \t")
	if val == "" {
		return "", "", fmt.Errorf("%s has no value", key)
	}
	for _, r := range val {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return "", "", fmt.Errorf("control character in %s", key)
		}
	}
	return key, val, nil
}

func (p *Policy) setMode(val string) error {
	switch m := Mode(val); m {
	case Enforce, Testing, None:
		p.Mode = m
		return nil
	}
	return fmt.Errorf("mode %q, want enforce, testing or none", clip(val))
}

func (p *Policy) setMaxAge(val string) error {
	// RFC 8461 3.2: 1*10(DIGIT), at most 31557600.
	if len(val) > 10 || strings.Trim(val, "0123456789") != "" {
		return fmt.Errorf("max_age %q is not a number of seconds", clip(val))
	}
	v, _ := strconv.ParseInt(val, 10, 64)
	if v > MaxAgeLimit {
		return fmt.Errorf("max_age %d is over the maximum %d", v, MaxAgeLimit)
	}
	p.MaxAge = v
	return nil
}

func (p *Policy) addMX(val string) error {
	pat := strings.ToLower(strings.TrimSuffix(val, "."))
	if err := checkPattern(pat); err != nil {
		return fmt.Errorf("mx %q: %w", clip(val), err)
	}
	p.MX = append(p.MX, pat)
	return nil
}

// isFieldName checks sts-policy-ext-name (RFC 8461 3.2), which the known
// keys also satisfy, and sts-ext-name of the TXT record (3.1), the same:
// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func isFieldName(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !isAlnum(c) && (i == 0 || (c != '_' && c != '-' && c != '.')) {
			return false
		}
	}
	return true
}

// checkPattern checks an mx pattern: a domain, optionally with "*." in
// front (RFC 8461 3.2: sts-policy-mx-value = ["*."] Domain).
func checkPattern(pat string) error {
	d := strings.TrimPrefix(pat, "*.")
	if d == "" || len(d) > 253 {
		return errors.New("not a domain")
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return errors.New("not a domain")
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !isAlnum(c) && c != '-' {
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
// patterns (RFC 8461 4.1: "*." matches exactly one leftmost label). Case
// and a final dot do not matter.
func (p *Policy) Matches(host string) bool {
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

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// clip shortens text quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
