// Package maillog is postern's mail log: a slog.Handler that writes one
// line per mail event (connect, reject, accepted, delivered, deferred,
// bounced...), as syslog-style text by default or as JSON on request.
// Values under keys that name secrets are never written.
package maillog

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Options configure a Handler; the zero value writes text at Info.
type Options struct {
	JSON     bool       // one JSON object per line instead of text
	Level    slog.Level // least level written; the zero value is Info
	Hostname string     // the host field of text lines; "" means os.Hostname
	Tag      string     // the program name of text lines; "" means "postern"
	PID      int        // 0 means os.Getpid
	// Now stamps records that carry no time; nil means time.Now.
	Now func() time.Time
	// UTC writes text timestamps in UTC rather than local time.
	UTC bool
}

// Handler writes log records as mail log lines. It is safe for
// concurrent use; lines are written whole, one Write each.
type Handler struct {
	opt    Options
	out    *output
	prefix []attr   // from WithAttrs, already grouped
	groups []string // from WithGroup
}

type output struct {
	mu sync.Mutex
	w  io.Writer
}

type attr struct {
	key string
	val slog.Value
}

// New returns a handler writing to w.
func New(w io.Writer, opt Options) *Handler {
	if opt.Hostname == "" {
		opt.Hostname, _ = os.Hostname()
		if opt.Hostname == "" {
			opt.Hostname = "localhost"
		}
	}
	// Only the first label: syslog's HOSTNAME field has no dots by custom.
	if i := strings.IndexByte(opt.Hostname, '.'); i > 0 {
		opt.Hostname = opt.Hostname[:i]
	}
	if opt.Tag == "" {
		opt.Tag = "postern"
	}
	if opt.PID == 0 {
		opt.PID = os.Getpid()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Handler{opt: opt, out: &output{w: w}}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.opt.Level }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.prefix = append([]attr(nil), h.prefix...)
	for _, a := range as {
		h2.prefix = appendAttr(h2.prefix, h.groups, a)
	}
	return &h2
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(append([]string(nil), h.groups...), name)
	return &h2
}

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]attr(nil), h.prefix...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = appendAttr(attrs, h.groups, a)
		return true
	})
	t := r.Time
	if t.IsZero() {
		t = h.opt.Now()
	}
	var line []byte
	if h.opt.JSON {
		line = h.appendJSON(nil, t, r.Level, r.Message, attrs)
	} else {
		if h.opt.UTC {
			t = t.UTC()
		}
		line = h.appendText(nil, t, r.Level, r.Message, attrs)
	}
	line = append(line, '\n')
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := h.out.w.Write(line)
	return err
}

// appendAttr flattens a (group) attribute into dotted keys.
func appendAttr(dst []attr, groups []string, a slog.Attr) []attr {
	v := a.Value.Resolve()
	if a.Key == "" && v.Kind() != slog.KindGroup {
		return dst
	}
	if v.Kind() == slog.KindGroup {
		g := groups
		if a.Key != "" {
			g = append(append([]string(nil), groups...), a.Key)
		}
		for _, ga := range v.Group() {
			dst = appendAttr(dst, g, ga)
		}
		return dst
	}
	key := a.Key
	if len(groups) > 0 {
		key = strings.Join(groups, ".") + "." + key
	}
	if Secret(a.Key) {
		v = slog.StringValue(Redacted)
	}
	return append(dst, attr{key: key, val: v})
}

// Redacted replaces the value of a secret key.
const Redacted = "[redacted]"

// secretWords are parts of key names whose values are never logged.
var secretWords = []string{"password", "passwd", "secret", "token", "credential", "authdata", "auth_data", "private_key"}

// Secret reports whether a log key names a secret (passwords, AUTH
// exchanges, keys), whose value the mail log never writes.
func Secret(key string) bool {
	k := strings.ToLower(key)
	if k == "pass" || k == "pw" || k == "blob" {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// appendJSON writes {"time":...,"level":...,"event":...,key:value...}.
func (h *Handler) appendJSON(b []byte, t time.Time, l slog.Level, msg string, attrs []attr) []byte {
	b = append(b, `{"time":`...)
	b = appendJSONValue(b, t.Format(time.RFC3339Nano))
	b = append(b, `,"level":`...)
	b = appendJSONValue(b, strings.ToLower(l.String()))
	b = append(b, `,"event":`...)
	b = appendJSONValue(b, msg)
	for _, a := range attrs {
		switch a.key {
		case "time", "level", "event":
			a.key = "attr." + a.key
		}
		b = append(b, ',')
		b = appendJSONValue(b, a.key)
		b = append(b, ':')
		b = appendJSONValue(b, jsonValue(a.val))
	}
	return append(b, '}')
}

func jsonValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		return v.Float64()
	case slog.KindBool:
		return v.Bool()
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	}
	if err, ok := v.Any().(error); ok {
		return err.Error()
	}
	return v.String()
}

func appendJSONValue(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		j, _ = json.Marshal(err.Error())
	}
	return append(b, j...)
}
