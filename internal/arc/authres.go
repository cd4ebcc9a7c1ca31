package arc

import "strings"

// splitResults splits an Authentication-Results value (RFC 8601 2.2)
// at the semicolons outside comments and quoted strings: the authserv-id
// (with its version, if any), then each resinfo. Runs of white space
// and line folds become single spaces; empty parts are dropped.
func splitResults(v string) []string {
	var out []string
	var cur strings.Builder
	depth, quoted, esc, space := 0, false, false, false
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
		space = false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			space = true
			continue
		}
		if space && cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		space = false
		switch {
		case esc:
			esc = false
		case c == '\\' && (quoted || depth > 0):
			esc = true
		case c == '"' && depth == 0:
			quoted = !quoted
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted && depth > 0:
			depth--
		case c == ';' && !quoted && depth == 0:
			flush()
			continue
		}
		cur.WriteByte(c)
	}
	flush()
	return out
}

// result is one resinfo read for the override decision: its method,
// result value and properties (RFC 8601 2.2), comments left out, names
// in lower case.
type result struct {
	method, value string
	props         map[string]string
}

// parseResult reads a resinfo as splitResults gives it.
func parseResult(s string) result {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && depth == 0:
			quoted = !quoted
		case c == '(' && !quoted:
			depth++
			continue
		case c == ')' && !quoted && depth > 0:
			depth--
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	t := strings.NewReplacer(" =", "=", "= ", "=").Replace(b.String())
	f := strings.Fields(t)
	r := result{props: map[string]string{}}
	if len(f) == 0 {
		return r
	}
	m, v, _ := strings.Cut(f[0], "=")
	m, _, _ = strings.Cut(m, "/") // method version (RFC 8601 2.2)
	r.method, r.value = strings.ToLower(m), strings.ToLower(v)
	for _, p := range f[1:] {
		k, v, ok := strings.Cut(p, "=")
		if ok {
			r.props[strings.ToLower(k)] = strings.Trim(v, `"`)
		}
	}
	return r
}
