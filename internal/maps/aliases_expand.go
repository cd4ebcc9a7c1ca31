package maps

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// sendmail's MaxAliasRecursion default.
const defaultMaxAliasDepth = 10

const defaultMaxIncludeBytes = 1 << 20

// ExpandOptions are the caller's choices for alias expansion. The zero
// value is the safe one: no file or command targets, includes allowed.
type ExpandOptions struct {
	AllowFiles    bool // "/file" targets; otherwise they become TargetError
	AllowCommands bool // "|command" targets; otherwise they become TargetError
	NoIncludes    bool // refuse ":include:" targets
	MaxDepth      int  // aliases deep; 0 means 10, sendmail's default
	// IsLocal, when set, says which domains are ours: an address target in
	// such a domain is aliased again by its local part.
	IsLocal func(domain string) bool
	// MaxIncludeBytes bounds an include file; 0 means 1 MiB.
	MaxIncludeBytes int64
}

// Expansion is the result of expanding a name.
type Expansion struct {
	Found   bool     // the name is an alias
	Targets []Target // final targets: local users, addresses, files, commands and errors
}

// Errors lists the error targets.
func (x Expansion) Errors() []Target {
	var out []Target
	for _, t := range x.Targets {
		if t.Kind == TargetError {
			out = append(out, t)
		}
	}
	return out
}

// ErrAliasLoop is wrapped by the Err of a target whose expansion came back
// to an alias already being expanded.
var ErrAliasLoop = errors.New("alias loop")

// ErrAliasDepth is wrapped when aliases nest deeper than MaxDepth.
var ErrAliasDepth = errors.New("aliases nested too deep")

// ErrTargetNotAllowed is wrapped when a file, command or include target is
// not enabled.
var ErrTargetNotAllowed = errors.New("target type not allowed")

type expander struct {
	a    *Aliases
	opt  ExpandOptions
	out  []Target
	seen map[string]bool // targets emitted
	done map[string]bool // aliases and include files already expanded
}

// Expand expands a local name through the aliases, recursively, with
// sendmail's rules: a name that lists itself ("eric: eric, eric@other")
// is delivered locally rather than expanded again; "\name" is never
// aliased; a longer cycle ("a: b", "b: a") yields a TargetError instead of
// looping; duplicates are delivered once; targets of a list NAME carry
// Owner "owner-NAME" when that alias exists. A name that is not an alias
// gives Found false and no targets.
func (a *Aliases) Expand(name string, opt ExpandOptions) Expansion {
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = defaultMaxAliasDepth
	}
	if opt.MaxIncludeBytes <= 0 {
		opt.MaxIncludeBytes = defaultMaxIncludeBytes
	}
	al, ok := a.Lookup(name)
	if !ok {
		return Expansion{}
	}
	x := &expander{a: a, opt: opt, seen: make(map[string]bool), done: make(map[string]bool)}
	x.alias(al, nil, "")
	return Expansion{Found: true, Targets: x.out}
}

func (x *expander) emit(t Target) {
	k := t.Kind.String() + "\x00" + strings.ToLower(t.Value)
	if t.Kind == TargetError {
		k += "\x00" + t.Err.Error()
	}
	if x.seen[k] {
		return
	}
	x.seen[k] = true
	x.out = append(x.out, t)
}

func (x *expander) fail(t Target, chain []string, owner string, err error, temp bool) {
	t.Kind, t.Err, t.Temporary, t.Chain, t.Owner = TargetError, err, temp, chain, owner
	x.emit(t)
}

func (x *expander) alias(al *Alias, chain []string, owner string) {
	// A list reached again through another branch adds nothing new; not
	// expanding it twice keeps nested lists from growing exponentially.
	x.done[al.Name] = true
	chain = append(chain[:len(chain):len(chain)], al.Name)
	if o, ok := x.a.m["owner-"+al.Name]; ok {
		owner = o.Name
	}
	for _, t := range al.Targets {
		x.target(t, al.Name, chain, owner)
	}
}

func (x *expander) target(t Target, self string, chain []string, owner string) {
	t.Chain, t.Owner = chain, owner
	switch t.Kind {
	case TargetFile:
		if !x.opt.AllowFiles {
			x.fail(t, chain, owner, fmt.Errorf("%w: file %s (%s)", ErrTargetNotAllowed, t.Value, t.Source.Human()), false)
			return
		}
		x.emit(t)
	case TargetCommand:
		if !x.opt.AllowCommands {
			x.fail(t, chain, owner, fmt.Errorf("%w: command %q (%s)", ErrTargetNotAllowed, t.Value, t.Source.Human()), false)
			return
		}
		x.emit(t)
	case TargetInclude:
		x.include(t, chain, owner)
	case TargetAddress:
		local, domain, _ := splitAddress(t.Value)
		if x.opt.IsLocal != nil && x.opt.IsLocal(domain) {
			x.name(t, strings.ToLower(local), self, chain, owner, true)
			return
		}
		x.emit(t)
	case TargetLocal:
		if t.Literal {
			x.emit(t)
			return
		}
		x.name(t, t.Value, self, chain, owner, false)
	}
}

// name handles a local name found in a list (or the local part of one of
// our addresses): expand it if it is an alias, else deliver to it.
func (x *expander) name(t Target, n, self string, chain []string, owner string, isAddr bool) {
	al, ok := x.a.m[n]
	switch {
	case !ok || n == self:
		// sendmail: a list naming itself delivers to the local user.
		if n == self && !isAddr {
			t.Literal = true
		}
		x.emit(t)
	case contains(chain, n):
		x.fail(t, chain, owner, fmt.Errorf("%w: %s -> %s", ErrAliasLoop, strings.Join(chain, " -> "), n), false)
	case x.done[n]:
		// already expanded through another branch
	case len(chain) >= x.opt.MaxDepth:
		x.fail(t, chain, owner, fmt.Errorf("%w: more than %d levels at %s", ErrAliasDepth, x.opt.MaxDepth, n), false)
	default:
		x.alias(al, chain, owner)
	}
}

func (x *expander) include(t Target, chain []string, owner string) {
	if x.opt.NoIncludes {
		x.fail(t, chain, owner, fmt.Errorf("%w: :include:%s (%s)", ErrTargetNotAllowed, t.Value, t.Source.Human()), false)
		return
	}
	path := t.Value
	if !filepath.IsAbs(path) {
		path = filepath.Join(x.a.dir, path)
	}
	path = filepath.Clean(path)
	mark := ":include:" + path
	if contains(chain, mark) {
		x.fail(t, chain, owner, fmt.Errorf("%w: %s -> %s", ErrAliasLoop, strings.Join(chain, " -> "), mark), false)
		return
	}
	if x.done[mark] {
		return
	}
	if len(chain) >= x.opt.MaxDepth {
		x.fail(t, chain, owner, fmt.Errorf("%w: more than %d levels at %s", ErrAliasDepth, x.opt.MaxDepth, mark), false)
		return
	}
	targets, err := readInclude(path, x.opt.MaxIncludeBytes)
	if err != nil {
		var pe ParseErrors
		temp := !errors.As(err, &pe)
		x.fail(t, chain, owner, fmt.Errorf(":include:%s (%s): %w", path, t.Source.Human(), err), temp)
		return
	}
	x.done[mark] = true
	chain = append(chain[:len(chain):len(chain)], mark)
	for _, it := range targets {
		x.target(it, "", chain, owner)
	}
}

// readInclude reads an include file: targets separated by commas or line
// breaks, '#' comment lines.
func readInclude(path string, limit int64) ([]Target, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return ParseIncludeList(path, io.LimitReader(f, limit))
}

// ParseIncludeList reads the contents of an :include: file.
func ParseIncludeList(name string, r io.Reader) ([]Target, error) {
	el := &errList{file: name}
	var out []Target
	for _, ln := range readLines(r, el) {
		if skippable(ln.text) {
			continue
		}
		ts, errs := parseTargets(ln.text, Source{File: name, Line: ln.n})
		for _, e := range errs {
			el.add(ln.n, "%s", e)
		}
		out = append(out, ts...)
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
