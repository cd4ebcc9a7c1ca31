package config

import (
	"strconv"
	"strings"
)

// positions maps key paths to the line they are written on. A path joins
// table and key names with "." and gives array elements as "[i]", e.g.
// "listener[1].mode" or "local_domains[2]".
//
// The TOML library reports positions for syntax errors but not for keys,
// so this scanner walks the (already successfully parsed) text once and
// records where every key, table header and array element starts.
type positions map[string]int

// line returns the line of path, or of its nearest recorded parent; 0
// when nothing is known.
func (p positions) line(path string) int {
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// scanPositions records the positions of the keys in src. It never fails:
// on text it does not understand it moves on by one byte.
func scanPositions(src string) positions {
	s := &posScanner{src: src, line: 1, pos: positions{}, aot: map[string]int{}}
	s.run()
	return s.pos
}

type posScanner struct {
	src  string
	i    int
	line int
	pos  positions
	aot  map[string]int // array-of-tables path (parents indexed) -> elements seen
}

func (s *posScanner) eof() bool { return s.i >= len(s.src) }

func (s *posScanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

func (s *posScanner) advance() {
	if s.src[s.i] == '\n' {
		s.line++
	}
	s.i++
}

func (s *posScanner) record(path string) {
	if _, ok := s.pos[path]; !ok {
		s.pos[path] = s.line
	}
}

// skipSpace skips blanks, and newlines and comments when nl is true.
func (s *posScanner) skipSpace(nl bool) {
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.advance()
		case c == '\n' && nl:
			s.advance()
		case c == '#':
			for !s.eof() && s.src[s.i] != '\n' {
				s.advance()
			}
		default:
			return
		}
	}
}

func (s *posScanner) run() {
	table := ""
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.src[s.i] == '[' {
			table = s.header()
		} else {
			s.keyValue(table)
		}
		if s.i == start {
			s.advance()
		}
	}
}

// header reads "[a.b]" or "[[a.b]]" and returns the table's path.
func (s *posScanner) header() string {
	array := s.peek(1) == '['
	s.advance()
	if array {
		s.advance()
	}
	parts := s.keyParts()
	path := ""
	for k, part := range parts {
		path = joinPath(path, part)
		last := k == len(parts)-1
		if last && array {
			n := s.aot[path]
			s.aot[path] = n + 1
			path = indexPath(path, n)
		} else if n, ok := s.aot[path]; ok && n > 0 {
			path = indexPath(path, n-1)
		}
	}
	s.record(path)
	s.skipSpace(false)
	for !s.eof() && s.src[s.i] == ']' {
		s.advance()
	}
	return path
}

// keyValue reads "a.b = value" inside table.
func (s *posScanner) keyValue(table string) {
	parts := s.keyParts()
	if len(parts) == 0 {
		return
	}
	path := table
	for _, p := range parts {
		path = joinPath(path, p)
		s.record(path)
	}
	s.skipSpace(false)
	if s.eof() || s.src[s.i] != '=' {
		return
	}
	s.advance()
	s.skipSpace(false)
	s.value(path, 0)
}

// keyParts reads a dotted key of bare and quoted parts.
func (s *posScanner) keyParts() []string {
	var parts []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return parts
		}
		switch c := s.src[s.i]; {
		case c == '"' || c == '\'':
			parts = append(parts, s.quotedKey(c))
		case isBareKeyByte(c):
			start := s.i
			for !s.eof() && isBareKeyByte(s.src[s.i]) {
				s.advance()
			}
			parts = append(parts, s.src[start:s.i])
		default:
			return parts
		}
		s.skipSpace(false)
		if s.eof() || s.src[s.i] != '.' {
			return parts
		}
		s.advance()
	}
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (s *posScanner) quotedKey(q byte) string {
	s.advance()
	var b strings.Builder
	for !s.eof() && s.src[s.i] != q && s.src[s.i] != '\n' {
		if q == '"' && s.src[s.i] == '\\' && s.i+1 < len(s.src) {
			s.advance()
		}
		b.WriteByte(s.src[s.i])
		s.advance()
	}
	if !s.eof() && s.src[s.i] == q {
		s.advance()
	}
	return b.String()
}

const maxValueDepth = 64

// value skips one value, recording array elements and inline table keys
// under path.
func (s *posScanner) value(path string, depth int) {
	if s.eof() || depth > maxValueDepth {
		return
	}
	switch c := s.src[s.i]; c {
	case '"', '\'':
		s.skipString(c)
	case '[':
		s.advance()
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == ']' {
				s.advance()
				return
			}
			start := s.i
			elem := indexPath(path, n)
			s.record(elem)
			s.value(elem, depth+1)
			s.skipSpace(true)
			if !s.eof() && s.src[s.i] == ',' {
				s.advance()
			} else if s.i == start {
				s.advance()
			}
		}
	case '{':
		s.advance()
		for {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == '}' {
				s.advance()
				return
			}
			start := s.i
			parts := s.keyParts()
			p := path
			for _, k := range parts {
				p = joinPath(p, k)
				s.record(p)
			}
			s.skipSpace(false)
			if !s.eof() && s.src[s.i] == '=' {
				s.advance()
				s.skipSpace(false)
				s.value(p, depth+1)
			}
			s.skipSpace(true)
			if !s.eof() && s.src[s.i] == ',' {
				s.advance()
			} else if s.i == start {
				s.advance()
			}
		}
	default:
		// A number, boolean or date: up to a delimiter.
		for !s.eof() {
			switch s.src[s.i] {
			case '\n', '#', ',', ']', '}':
				return
			}
			s.advance()
		}
	}
}

// skipString skips a basic, literal or multi-line string.
func (s *posScanner) skipString(q byte) {
	if s.peek(1) == q && s.peek(2) == q {
		s.advance()
		s.advance()
		s.advance()
		for !s.eof() {
			if q == '"' && s.src[s.i] == '\\' && s.i+1 < len(s.src) {
				s.advance()
				s.advance()
				continue
			}
			if s.src[s.i] == q && s.peek(1) == q && s.peek(2) == q {
				// Up to two more quotes may belong to the content.
				for !s.eof() && s.src[s.i] == q {
					s.advance()
				}
				return
			}
			s.advance()
		}
		return
	}
	s.advance()
	for !s.eof() && s.src[s.i] != '\n' {
		c := s.src[s.i]
		if q == '"' && c == '\\' && s.i+1 < len(s.src) {
			s.advance()
			s.advance()
			continue
		}
		s.advance()
		if c == q {
			return
		}
	}
}
