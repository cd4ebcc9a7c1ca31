package maillog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Line is one parsed text line of the mail log.
type Line struct {
	Time   time.Time // year-less, as syslog writes it (year 0)
	Host   string
	Tag    string
	PID    int
	Level  string // "", "warning", "error" or "debug"
	Event  string
	Fields []Field
}

// Field is one key=value pair.
type Field struct{ Key, Value string }

// Get returns the value of the first field named key.
func (l *Line) Get(key string) (string, bool) {
	for _, f := range l.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// ParseLine reads one text line as the Handler writes it (for tools that
// read the log back, such as postern status). It never panics; a line it
// cannot read gives an error saying where.
func ParseLine(s string) (*Line, error) {
	s = strings.TrimSuffix(s, "\n")
	l := &Line{}
	rest, err := l.parseHeader(s)
	if err != nil {
		return nil, err
	}
	for _, lv := range []string{"warning", "error", "debug"} {
		if strings.HasPrefix(rest, lv+": ") {
			l.Level, rest = lv, rest[len(lv)+2:]
			break
		}
	}
	if rest, err = l.parseEvent(rest); err != nil {
		return nil, err
	}
	if err := l.parseFields(rest); err != nil {
		return nil, err
	}
	return l, nil
}

// parseHeader reads the syslog part of the line: the timestamp, the host
// name and tag[pid]: . It returns the rest of the line.
func (l *Line) parseHeader(s string) (string, error) {
	if len(s) < len(stampLayout)+1 {
		return "", errors.New("line too short for a syslog timestamp")
	}
	t, err := time.Parse(stampLayout, s[:len(stampLayout)])
	if err != nil {
		return "", fmt.Errorf("timestamp: %v", err)
	}
	l.Time = t
	rest := s[len(stampLayout):]
	if rest == "" || rest[0] != ' ' {
		return "", errors.New("no space after the timestamp")
	}
	rest = rest[1:]
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return "", errors.New("no host name")
	}
	l.Host, rest = rest[:sp], rest[sp+1:]
	end := strings.Index(rest, "]: ")
	open := strings.IndexByte(rest, '[')
	if end < 0 || open <= 0 || open > end {
		return "", errors.New("no tag[pid]: after the host name")
	}
	l.Tag = rest[:open]
	if l.PID, err = strconv.Atoi(rest[open+1 : end]); err != nil || l.PID < 0 {
		return "", fmt.Errorf("bad pid %q", rest[open+1:end])
	}
	return rest[end+3:], nil
}

// parseEvent reads the event: one quoted string, or the words before the
// first key=value. It returns the rest, the fields, each after a space.
func (l *Line) parseEvent(rest string) (string, error) {
	if strings.HasPrefix(rest, `"`) {
		q, n, err := unquotePrefix(rest)
		if err != nil {
			return "", fmt.Errorf("event: %v", err)
		}
		l.Event = q
		return rest[n:], nil
	}
	var words []string
	for rest != "" {
		w := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			w = rest[:i]
		}
		if strings.ContainsAny(w, `="`) {
			break
		}
		words = append(words, w)
		rest = strings.TrimPrefix(rest[len(w):], " ")
	}
	l.Event = strings.Join(words, " ")
	if rest != "" {
		rest = " " + rest
	}
	return rest, nil
}

// parseFields reads the key=value fields, each after a space; a value is
// one word or a quoted string.
func (l *Line) parseFields(rest string) error {
	for rest != "" {
		if rest[0] != ' ' {
			return fmt.Errorf("want a space before %.20q", rest)
		}
		rest = rest[1:]
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return fmt.Errorf("want key=value at %.20q", rest)
		}
		f := Field{Key: rest[:eq]}
		if strings.ContainsAny(f.Key, ` "`) {
			return fmt.Errorf("bad key %q", f.Key)
		}
		rest = rest[eq+1:]
		if strings.HasPrefix(rest, `"`) {
			q, n, err := unquotePrefix(rest)
			if err != nil {
				return fmt.Errorf("%s: %v", f.Key, err)
			}
			f.Value, rest = q, rest[n:]
		} else {
			n := strings.IndexByte(rest, ' ')
			if n < 0 {
				n = len(rest)
			}
			f.Value, rest = rest[:n], rest[n:]
		}
		l.Fields = append(l.Fields, f)
	}
	return nil
}

// unquotePrefix unquotes the Go-quoted string at the start of s and
// returns it with the number of bytes it took.
func unquotePrefix(s string) (string, int, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", 0, errors.New("unterminated or bad quoted string")
	}
	u, err := strconv.Unquote(q)
	if err != nil {
		return "", 0, err
	}
	return u, len(q), nil
}
