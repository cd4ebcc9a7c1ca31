package ldapmaps

import (
	"fmt"
	"sort"
	"strings"
)

// Render turns the entries a file's Query found into that map file's
// text, for internal/maps to parse. It refuses what it cannot give with
// sendmail's meaning, so that a map is never loaded with entries missing:
// an entry that needs a recursive search (sendmailMTAMapSearch or
// sendmailMTAMapURL instead of a value), a key held by more than one
// entry (sendmail's -1 would drop it, and a dropped access REJECT is an
// allow), values with line breaks, and alias targets that are programs,
// files or :include: lists (from a directory, one entry would run
// commands on every gateway).
func Render(file string, entries []Entry) ([]byte, error) {
	l, ok := layouts[file]
	if !ok {
		return nil, fmt.Errorf("%s cannot come from LDAP", file)
	}
	var lines []string
	var err error
	switch l.kind {
	case kindMap:
		lines, err = mapLines(entries)
	case kindAlias:
		lines, err = aliasLines(entries)
	default:
		lines, err = classLines(entries)
	}
	if err != nil {
		return nil, fmt.Errorf("%s from LDAP: %w", file, err)
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return nil, nil
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

// one returns the single value of attr in e.
func one(e Entry, attr string) (string, error) {
	v := e.get(attr)
	if len(v) != 1 {
		return "", fmt.Errorf("entry %q has %d values of %s, want 1", e.DN, len(v), attr)
	}
	if err := clean(e, v[0]); err != nil {
		return "", err
	}
	return strings.TrimSpace(v[0]), nil
}

// clean refuses a value that would break the text format.
func clean(e Entry, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("entry %q has a value with a line break or NUL", e.DN)
	}
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("entry %q has an empty value", e.DN)
	}
	return nil
}

// recursive refuses an entry that points at another search.
func recursive(e Entry, attrs ...string) error {
	for _, a := range attrs {
		if len(e.get(a)) > 0 {
			return fmt.Errorf("entry %q uses %s, a recursive search postern does not follow; give its value instead", e.DN, a)
		}
	}
	return nil
}

// key returns e's sendmailMTAKey, checked to be one word and unique.
func key(e Entry, seen map[string]string) (string, error) {
	k, err := one(e, "sendmailMTAKey")
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(k, " \t") {
		return "", fmt.Errorf("entry %q has a key with spaces: %q", e.DN, k)
	}
	lk := strings.ToLower(k)
	if prev, dup := seen[lk]; dup {
		return "", fmt.Errorf("key %q is in two entries, %q and %q (sendmail would ignore both); remove one", k, prev, e.DN)
	}
	seen[lk] = e.DN
	return k, nil
}

func mapLines(entries []Entry) ([]string, error) {
	seen := map[string]string{}
	var out []string
	for _, e := range entries {
		if len(e.get("sendmailMTAMapValue")) == 0 {
			if err := recursive(e, "sendmailMTAMapSearch", "sendmailMTAMapURL"); err != nil {
				return nil, err
			}
		}
		k, err := key(e, seen)
		if err != nil {
			return nil, err
		}
		v, err := one(e, "sendmailMTAMapValue")
		if err != nil {
			return nil, err
		}
		out = append(out, k+"\t"+v)
	}
	return out, nil
}

func aliasLines(entries []Entry) ([]string, error) {
	seen := map[string]string{}
	var out []string
	for _, e := range entries {
		vals := e.get("sendmailMTAAliasValue")
		if len(vals) == 0 {
			if err := recursive(e, "sendmailMTAAliasSearch", "sendmailMTAAliasURL"); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("entry %q has no sendmailMTAAliasValue", e.DN)
		}
		k, err := key(e, seen)
		if err != nil {
			return nil, err
		}
		var targets []string
		for _, v := range vals {
			if err := clean(e, v); err != nil {
				return nil, err
			}
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t == "" {
					continue
				}
				if err := safeTarget(e, t); err != nil {
					return nil, err
				}
				targets = append(targets, t)
			}
		}
		out = append(out, k+": "+strings.Join(targets, ", "))
	}
	return out, nil
}

// safeTarget refuses program, file and :include: targets.
func safeTarget(e Entry, t string) error {
	u := strings.Trim(t, `"`)
	if strings.HasPrefix(u, "|") || strings.HasPrefix(u, "/") || strings.HasPrefix(strings.ToLower(u), ":include:") {
		return fmt.Errorf("entry %q has target %q: programs, files and :include: lists are taken only from the aliases file, not from a directory", e.DN, t)
	}
	return nil
}

func classLines(entries []Entry) ([]string, error) {
	var out []string
	for _, e := range entries {
		vals := e.get("sendmailMTAClassValue")
		if len(vals) == 0 {
			if err := recursive(e, "sendmailMTAClassSearch", "sendmailMTAClassURL"); err != nil {
				return nil, err
			}
		}
		for _, v := range vals {
			if err := clean(e, v); err != nil {
				return nil, err
			}
			out = append(out, strings.Fields(v)...)
		}
	}
	return out, nil
}
