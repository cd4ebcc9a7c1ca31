// Package sendmailcf reads a sendmail configuration (sendmail.mc or
// sendmail.cf, the access map, relay-domains and the other text maps) for
// the linter (postern lint-sendmail) and the importer (postern
// import-sendmail). It does not run m4: it reads the macro calls the way
// m4 would split them, which is enough to see the FEATUREs, defines and
// DAEMON_OPTIONS an admin wrote.
package sendmailcf

import (
	"fmt"
	"strings"
)

// Call is one m4 macro call in a .mc file: FEATURE(`x', `y') gives
// Name "FEATURE" and Args ["x", "y"], quotes removed.
type Call struct {
	Name string
	Args []string
	Line int // line of the macro name, from 1
}

// Arg returns argument i, or "" when absent.
func (c Call) Arg(i int) string {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return ""
}

// maxCallArgs and maxArgLen bound what one call may hold, so hostile
// input cannot make the parser hold unbounded memory per call.
const (
	maxCallArgs = 64
	maxNesting  = 100
)

// ParseM4 splits src into macro calls. It follows m4's lexical rules:
// `quoted' text (nesting) is not scanned for calls, "dnl" discards the
// rest of its line, "#" starts a comment to the end of the line, and a
// word followed immediately by "(" is a call whose arguments are split at
// top-level commas. Words not followed by "(" are recorded as calls
// without arguments only when they are in upper case (MAILER_DEFINITIONS,
// LOCAL_CONFIG). An unterminated quote or call is an error.
func ParseM4(src string) ([]Call, error) {
	return parseM4(src, 0)
}

func parseM4(src string, depth int) ([]Call, error) {
	p := &m4parser{src: src, line: 1, depth: depth}
	var calls []Call
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\n':
			p.line++
			p.pos++
		case c == '#':
			p.skipLine()
		case c == '`':
			if _, err := p.quoted(); err != nil {
				return calls, err
			}
		case isWordStart(c):
			line := p.line
			w := p.word()
			if w == "dnl" {
				p.skipLine()
				continue
			}
			if p.pos < len(p.src) && p.src[p.pos] == '(' {
				args, err := p.args(0)
				if err != nil {
					return calls, fmt.Errorf("line %d: %s: %w", line, w, err)
				}
				calls = append(calls, Call{Name: w, Args: args, Line: line})
				// Calls nested in unquoted arguments are expanded by m4
				// too; FEATURE inside ifdef(...) is common.
				for _, a := range args {
					if strings.Contains(a, "(") && p.depth < maxNesting {
						sub := &m4parser{src: a, line: line, depth: p.depth + 1}
						inner, err := sub.all()
						if err == nil {
							calls = append(calls, inner...)
						}
					}
				}
				continue
			}
			if isUpperWord(w) {
				calls = append(calls, Call{Name: w, Line: line})
			}
		default:
			p.pos++
		}
	}
	return calls, nil
}

type m4parser struct {
	src   string
	pos   int
	line  int
	depth int
}

func (p *m4parser) all() ([]Call, error) {
	var calls []Call
	rest, err := parseM4(p.src, p.depth)
	for _, c := range rest {
		c.Line += p.line - 1
		calls = append(calls, c)
	}
	return calls, err
}

func isWordStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isWordByte(c byte) bool { return isWordStart(c) || c >= '0' && c <= '9' }

func isUpperWord(w string) bool {
	if len(w) < 3 {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (p *m4parser) word() string {
	start := p.pos
	for p.pos < len(p.src) && isWordByte(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *m4parser) skipLine() {
	for p.pos < len(p.src) && p.src[p.pos] != '\n' {
		p.pos++
	}
	if p.pos < len(p.src) {
		p.pos++
		p.line++
	}
}

// quoted reads a `...' string (quotes nest) starting at the backquote and
// returns its content without the outer quotes.
func (p *m4parser) quoted() (string, error) {
	start := p.pos
	startLine := p.line
	depth := 0
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		switch c {
		case '`':
			depth++
		case '\'':
			depth--
			if depth == 0 {
				return p.src[start+1 : p.pos-1], nil
			}
		case '\n':
			p.line++
		}
	}
	return "", fmt.Errorf("line %d: unterminated quote", startLine)
}

// args reads "(a, b, ...)" starting at "(" and returns the arguments with
// one level of quotes removed and leading unquoted white space dropped,
// as m4 collects them.
func (p *m4parser) args(_ int) ([]string, error) {
	p.pos++ // "("
	var args []string
	var cur strings.Builder
	parens := 0
	atStart := true
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '`':
			q, err := p.quoted()
			if err != nil {
				return nil, err
			}
			cur.WriteString(q)
			atStart = false
		case c == '#':
			// A comment inside arguments is kept by m4; we drop it,
			// since it never holds configuration.
			p.skipLine()
		case isWordStart(c):
			w := p.word()
			if w == "dnl" {
				p.skipLine()
				continue
			}
			cur.WriteString(w)
			atStart = false
		case c == '(':
			parens++
			cur.WriteByte(c)
			p.pos++
			atStart = false
		case c == ')':
			p.pos++
			if parens == 0 {
				args = append(args, strings.TrimRight(cur.String(), " \t\n"))
				return args, nil
			}
			parens--
			cur.WriteByte(c)
		case c == ',' && parens == 0:
			p.pos++
			args = append(args, strings.TrimRight(cur.String(), " \t\n"))
			if len(args) >= maxCallArgs {
				return nil, fmt.Errorf("more than %d arguments", maxCallArgs)
			}
			cur.Reset()
			atStart = true
		case (c == ' ' || c == '\t' || c == '\n') && atStart:
			if c == '\n' {
				p.line++
			}
			p.pos++
		default:
			if c == '\n' {
				p.line++
			}
			cur.WriteByte(c)
			p.pos++
			atStart = false
		}
	}
	return nil, fmt.Errorf("unterminated argument list")
}
