package maps

import (
	"fmt"
	"sort"
	"strings"
)

// Row is one entry of a map kept in a directory or a database, before it
// becomes a line of the map's text: a key and its values, with Origin
// (an entry's DN, a table's row) naming it in messages. Classes
// (local-host-names, relay-domains) have no key: their values are the
// names.
type Row struct {
	Key    string
	Values []string
	Origin string
}

// RenderRows writes rows as the text of map file, for the map's one
// parser. It refuses, so that a map is never loaded with entries
// missing or added: a key in two rows (sendmail ignores both, and an
// ignored access REJECT is an allow), a key with spaces, values with
// line breaks or empty ones, more than one value for a key of a
// key-value map, and alias targets that are programs, files or
// :include: lists (from a shared source, one row would run commands on
// every gateway).
func RenderRows(file string, rows []Row) ([]byte, error) {
	var lines []string
	seen := map[string]string{}
	for _, r := range rows {
		line, err := rowLine(file, r, seen)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		lines = append(lines, line...)
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return nil, nil
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

func rowLine(file string, r Row, seen map[string]string) ([]string, error) {
	for _, v := range r.Values {
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("%s has a value with a line break or NUL", r.Origin)
		}
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("%s has an empty value", r.Origin)
		}
	}
	switch file {
	case FileLocalHostNames, FileRelayDomains:
		var names []string
		for _, v := range r.Values {
			names = append(names, strings.Fields(v)...)
		}
		return names, nil
	}
	k := strings.TrimSpace(r.Key)
	if k == "" || strings.ContainsAny(k, " \t\r\n\x00") {
		return nil, fmt.Errorf("%s has an empty key or one with spaces: %q", r.Origin, r.Key)
	}
	lk := strings.ToLower(k)
	if prev, dup := seen[lk]; dup {
		return nil, fmt.Errorf("key %q is in two entries, %s and %s (sendmail would ignore both); remove one", k, prev, r.Origin)
	}
	seen[lk] = r.Origin
	if file == FileAliases {
		return aliasRow(k, r)
	}
	if len(r.Values) != 1 {
		return nil, fmt.Errorf("%s has %d values for key %q, want 1", r.Origin, len(r.Values), k)
	}
	return []string{k + "\t" + strings.TrimSpace(r.Values[0])}, nil
}

func aliasRow(k string, r Row) ([]string, error) {
	var targets []string
	for _, v := range r.Values {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			u := strings.ToLower(strings.Trim(t, `"`))
			if strings.HasPrefix(u, "|") || strings.HasPrefix(u, "/") || strings.HasPrefix(u, ":include:") {
				return nil, fmt.Errorf("%s has target %q: programs, files and :include: lists are taken only from the aliases file, not from a shared source", r.Origin, t)
			}
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("%s has no targets for alias %q", r.Origin, k)
	}
	return []string{k + ": " + strings.Join(targets, ", ")}, nil
}
