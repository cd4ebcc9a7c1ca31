package maps

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// TargetKind says what an alias target is.
type TargetKind int

const (
	TargetLocal   TargetKind = iota // a local user name (after expansion: not an alias)
	TargetAddress                   // a mail address user@domain
	TargetFile                      // "/path": append the message to a file
	TargetCommand                   // "|command": pipe the message to a program
	TargetInclude                   // ":include:/path": a list read from a file
	TargetError                     // expansion failed; Err says why
)

func (k TargetKind) String() string {
	return [...]string{"local", "address", "file", "command", "include", "error"}[k]
}

// Target is one right-hand-side item of an alias, or one result of an
// expansion.
type Target struct {
	Kind  TargetKind
	Value string // user name, address, file path, command line or include path
	// Literal is set for "\user": deliver to the local user, no aliasing.
	Literal bool
	Source  Source // the aliases (or include file) line that produced it
	// Owner is the owner-NAME alias of the innermost list (with such an
	// alias) the target came through; errors for it go there.
	Owner string
	// Chain lists the aliases and include files expanded to reach it.
	Chain []string
	Err   error // TargetError: what went wrong
	// Temporary is set on a TargetError that may go away (an include file
	// that could not be read): defer rather than bounce.
	Temporary bool
}

// Alias is one entry of the aliases file.
type Alias struct {
	Name    string // lower case
	Targets []Target
	Source  Source
}

// Aliases is a parsed aliases file.
type Aliases struct {
	dir string // for relative :include: paths
	m   map[string]*Alias
}

// Len is the number of aliases.
func (a *Aliases) Len() int {
	if a == nil {
		return 0
	}
	return len(a.m)
}

// Lookup returns the alias for a local name, case-insensitively.
func (a *Aliases) Lookup(name string) (*Alias, bool) {
	if a == nil {
		return nil, false
	}
	al, ok := a.m[strings.ToLower(name)]
	return al, ok
}

// ParseAliases reads an aliases file: "name: target, target", continued on
// following lines that start with a blank; '#' comment lines and blank
// lines end an entry. Targets are local names, addresses, "\name",
// "/file", "|command" (quote it when it holds commas) and ":include:path".
// Relative include paths are taken from the directory of name.
func ParseAliases(name string, r io.Reader) (*Aliases, error) {
	el := &errList{file: name}
	a := &Aliases{dir: filepath.Dir(name), m: make(map[string]*Alias)}
	var cur *rawLine
	var buf strings.Builder
	flush := func() {
		if cur != nil {
			a.addEntry(el, cur.n, buf.String())
		}
		cur = nil
		buf.Reset()
	}
	for _, ln := range readLines(r, el) {
		switch {
		case skippable(ln.text):
			flush()
		case ln.text[0] == ' ' || ln.text[0] == '\t':
			if cur == nil {
				el.add(ln.n, "continuation line without an alias before it")
				continue
			}
			buf.WriteByte(' ')
			buf.WriteString(strings.TrimSpace(ln.text))
		default:
			flush()
			l := ln
			cur = &l
			buf.WriteString(ln.text)
		}
	}
	flush()
	if err := el.err(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Aliases) addEntry(el *errList, line int, s string) {
	name, val, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok {
		el.add(line, "missing ':' after the alias name")
		return
	}
	if name == "" || strings.ContainsAny(name, " \t@\"") {
		el.add(line, "bad alias name %q: a local name without blanks, quotes or '@'", name)
		return
	}
	src := Source{File: el.file, Line: line}
	targets, errs := parseTargets(val, src)
	for _, e := range errs {
		el.add(line, "alias %s: %s", name, e)
	}
	if len(errs) > 0 {
		return
	}
	if len(targets) == 0 {
		el.add(line, "alias %s has no targets", name)
		return
	}
	key := strings.ToLower(name)
	if old, dup := a.m[key]; dup {
		el.add(line, "duplicate alias %q (first at line %d)", name, old.Source.Line)
		return
	}
	a.m[key] = &Alias{Name: key, Targets: targets, Source: src}
}

// splitList splits a target list at commas outside double quotes.
func splitList(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	inq := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inq = !inq
			b.WriteByte(c)
		case c == '\\' && inq && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
		case c == ',' && !inq:
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	if inq {
		return nil, fmt.Errorf("unterminated quote")
	}
	return append(out, b.String()), nil
}

// parseTargets reads a comma-separated target list.
func parseTargets(val string, src Source) ([]Target, []error) {
	items, err := splitList(val)
	if err != nil {
		return nil, []error{err}
	}
	var out []Target
	var errs []error
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		ts, err := parseItem(it, src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, ts...)
	}
	return out, errs
}

// parseItem classifies one list item. An unquoted item holding blanks is
// several targets (sendmail reads blank-separated lists), except for a
// "|command", which runs to the next comma, and "Name <addr>".
func parseItem(it string, src Source) ([]Target, error) {
	t := Target{Source: src}
	if strings.HasPrefix(it, "\"") {
		if q := strings.LastIndexByte(it, '"'); q > 0 && q < len(it)-1 && it[q+1] == '@' {
			// A quoted local part: "john smith"@example.com
			return classify(t, it)
		}
		if len(it) < 2 || !strings.HasSuffix(it, "\"") {
			return nil, fmt.Errorf("bad quoting in %q", it)
		}
		in := strings.ReplaceAll(it[1:len(it)-1], `\"`, `"`)
		if strings.HasPrefix(in, "|") || strings.HasPrefix(in, "/") || hasIncludePrefix(in) {
			return parseItem(in, src)
		}
		// A quoted local part: keep it whole.
		it = in
		if strings.TrimSpace(it) == "" {
			return nil, fmt.Errorf("empty quoted target")
		}
		return classify(t, it)
	}
	switch {
	case strings.HasPrefix(it, "|"):
		t.Kind, t.Value = TargetCommand, strings.TrimSpace(it[1:])
		if t.Value == "" {
			return nil, fmt.Errorf("empty command in %q", it)
		}
		return []Target{t}, nil
	case hasIncludePrefix(it):
		t.Kind, t.Value = TargetInclude, strings.TrimSpace(it[len(":include:"):])
		if t.Value == "" {
			return nil, fmt.Errorf("empty :include: path")
		}
		return []Target{t}, nil
	case strings.Contains(it, "<"):
		i, j := strings.IndexByte(it, '<'), strings.LastIndexByte(it, '>')
		if j < i {
			return nil, fmt.Errorf("unbalanced <> in %q", it)
		}
		return classify(t, strings.TrimSpace(it[i+1:j]))
	}
	var out []Target
	for _, w := range strings.Fields(it) {
		ts, err := classify(t, w)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

func hasIncludePrefix(s string) bool {
	return len(s) >= 9 && strings.EqualFold(s[:9], ":include:")
}

func classify(t Target, w string) ([]Target, error) {
	switch {
	case w == "":
		return nil, fmt.Errorf("empty target")
	case strings.HasPrefix(w, "/"):
		t.Kind, t.Value = TargetFile, w
	case strings.HasPrefix(w, "|"):
		t.Kind, t.Value = TargetCommand, strings.TrimSpace(w[1:])
		if t.Value == "" {
			return nil, fmt.Errorf("empty command")
		}
	case strings.HasPrefix(w, "\\"):
		t.Kind, t.Literal, t.Value = TargetLocal, true, strings.ToLower(w[1:])
		if t.Value == "" || strings.Contains(t.Value, "@") {
			return nil, fmt.Errorf("bad local name %q", w)
		}
	case strings.Contains(w, "@"):
		local, domain, _ := splitAddress(w)
		if local == "" || domain == "" {
			return nil, fmt.Errorf("bad address %q", w)
		}
		d, err := normDomainOrLiteral(domain)
		if err != nil {
			return nil, fmt.Errorf("address %q: %v", w, err)
		}
		t.Kind, t.Value = TargetAddress, local+"@"+d
	default:
		t.Kind, t.Value = TargetLocal, strings.ToLower(w)
	}
	return []Target{t}, nil
}

// Includes lists the ":include:" targets of every alias, their paths made
// absolute, sorted by line: the files delivery reads (for checks that
// the server can reach them).
func (a *Aliases) Includes() []Target {
	if a == nil {
		return nil
	}
	var out []Target
	for _, al := range a.m {
		for _, t := range al.Targets {
			if t.Kind != TargetInclude {
				continue
			}
			if !filepath.IsAbs(t.Value) {
				t.Value = filepath.Join(a.dir, t.Value)
			}
			t.Value = filepath.Clean(t.Value)
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source.Line < out[j].Source.Line })
	return out
}
