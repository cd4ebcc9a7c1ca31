package maillog

import (
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// stampLayout is the RFC 3164 4.1.2 TIMESTAMP: "Mmm dd hh:mm:ss", the day
// padded with a space.
const stampLayout = "Jan _2 15:04:05"

// appendText writes one syslog-compatible line (RFC 3164 4.1.2 HEADER and
// TAG, as syslogd writes files):
//
//	Nov 21 01:02:03 mx postern[812]: reject conn=c1 stage=rcpt code=550 rule="..."
//
// Warnings and errors start with "warning: " and "error: " as Postfix's do.
func (h *Handler) appendText(b []byte, t time.Time, l slog.Level, msg string, attrs []attr) []byte {
	b = t.AppendFormat(b, stampLayout)
	b = append(b, ' ')
	b = append(b, h.opt.Hostname...)
	b = append(b, ' ')
	b = append(b, h.opt.Tag...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(h.opt.PID), 10)
	b = append(b, "]: "...)
	switch {
	case l >= slog.LevelError:
		b = append(b, "error: "...)
	case l >= slog.LevelWarn:
		b = append(b, "warning: "...)
	case l < slog.LevelInfo:
		b = append(b, "debug: "...)
	}
	b = appendEvent(b, msg)
	for _, a := range attrs {
		b = append(b, ' ')
		b = appendKey(b, a.key)
		b = append(b, '=')
		b = appendValue(b, textValue(a.val))
	}
	return b
}

func textValue(v slog.Value) string {
	switch v.Kind() {
	case slog.KindTime:
		return v.Time().Format(time.RFC3339)
	case slog.KindDuration:
		return v.Duration().String()
	}
	if err, ok := v.Any().(error); ok && v.Kind() == slog.KindAny {
		return err.Error()
	}
	return v.String()
}

// appendEvent writes the event name as it is when it reads as words,
// quoted otherwise, so that it never looks like a key=value pair.
func appendEvent(b []byte, msg string) []byte {
	if msg == "" || msg != strings.TrimSpace(msg) || strings.Contains(msg, "  ") || !plain(msg, true) {
		return strconv.AppendQuote(b, msg)
	}
	return append(b, msg...)
}

// appendKey writes a key with anything but letters, digits, '_', '-' and
// '.' replaced by '_'.
func appendKey(b []byte, k string) []byte {
	if k == "" {
		return append(b, '_')
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	return b
}

// appendValue writes v bare when it is one printable word, else quoted
// with Go escapes: a value never breaks the line or forges a field.
func appendValue(b []byte, v string) []byte {
	if v == "" || !plain(v, false) {
		return strconv.AppendQuote(b, v)
	}
	return append(b, v...)
}

// plain reports whether s needs no quoting: printable ASCII (and valid
// UTF-8 letters), no quote, backslash or '='; spaces only in an event.
func plain(s string, spaces bool) bool {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			return false
		case r == ' ':
			if !spaces {
				return false
			}
		case r < ' ' || r == 0x7f || r == '"' || r == '\\' || r == '=':
			return false
		case r >= 0x80 && !strconv.IsPrint(r):
			return false
		}
		_ = i
	}
	return true
}
