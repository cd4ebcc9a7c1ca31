package ldapmaps

import (
	"fmt"

	"postern/internal/maps"
)

// Render turns the entries a file's Query found into that map file's
// text, for internal/maps to parse (maps.RenderRows, which refuses
// duplicate keys, line breaks and program, file or :include: alias
// targets). It refuses, besides, an entry that needs a recursive search
// (sendmailMTAMapSearch or sendmailMTAMapURL instead of a value) and an
// entry without exactly one key: a map is never loaded with entries
// missing.
func Render(file string, entries []Entry) ([]byte, error) {
	l, ok := layouts[file]
	if !ok {
		return nil, fmt.Errorf("%s cannot come from LDAP", file)
	}
	value, search, url := "sendmailMTAMapValue", "sendmailMTAMapSearch", "sendmailMTAMapURL"
	switch l.kind {
	case kindAlias:
		value, search, url = "sendmailMTAAliasValue", "sendmailMTAAliasSearch", "sendmailMTAAliasURL"
	case kindClass:
		value, search, url = "sendmailMTAClassValue", "sendmailMTAClassSearch", "sendmailMTAClassURL"
	}
	rows := make([]maps.Row, 0, len(entries))
	for _, e := range entries {
		r := maps.Row{Values: e.get(value), Origin: fmt.Sprintf("entry %q", e.DN)}
		if len(r.Values) == 0 {
			for _, a := range []string{search, url} {
				if len(e.get(a)) > 0 {
					return nil, fmt.Errorf("%s from LDAP: entry %q uses %s, a recursive search postern does not follow; give its value instead", file, e.DN, a)
				}
			}
			if l.kind == kindClass {
				continue
			}
			return nil, fmt.Errorf("%s from LDAP: entry %q has no %s", file, e.DN, value)
		}
		if l.kind != kindClass {
			keys := e.get("sendmailMTAKey")
			if len(keys) != 1 {
				return nil, fmt.Errorf("%s from LDAP: entry %q has %d values of sendmailMTAKey, want 1", file, e.DN, len(keys))
			}
			r.Key = keys[0]
		}
		rows = append(rows, r)
	}
	out, err := maps.RenderRows(file, rows)
	if err != nil {
		return nil, fmt.Errorf("%s from LDAP: %w", file, err)
	}
	return out, nil
}
