package maillog

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var stamp = time.Date(2026, 11, 1, 1, 2, 3, 0, time.UTC)

func newTest(json bool) (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	h := New(&b, Options{JSON: json, Hostname: "mx.example.org", PID: 812, Now: func() time.Time { return stamp }, UTC: true, Level: slog.LevelDebug})
	return slog.New(&stampHandler{h}), &b
}

// stampHandler gives records a fixed time.
type stampHandler struct{ *Handler }

func (s *stampHandler) Handle(ctx contextT, r slog.Record) error {
	r.Time = stamp
	return s.Handler.Handle(ctx, r)
}

func (s *stampHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &stampHandler{s.Handler.WithAttrs(as).(*Handler)}
}

func (s *stampHandler) WithGroup(g string) slog.Handler {
	return &stampHandler{s.Handler.WithGroup(g).(*Handler)}
}

func TestText(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"connect", func(l *slog.Logger) {
			l.With("conn", "c1").Info("connect", "client", "192.0.2.1", "listener", "mta")
		}, `Nov  1 01:02:03 mx postern[812]: connect conn=c1 client=192.0.2.1 listener=mta`},
		{"reject with rule", func(l *slog.Logger) {
			l.Info("reject", "stage", "rcpt", "code", 550, "rule", "no RELAY entry matches client 192.0.2.1")
		}, `Nov  1 01:02:03 mx postern[812]: reject stage=rcpt code=550 rule="no RELAY entry matches client 192.0.2.1"`},
		{"accepted", func(l *slog.Logger) {
			l.Info("accepted", "msg", "0A1B", "size", int64(1234), "tls", true, "auth", "")
		}, `Nov  1 01:02:03 mx postern[812]: accepted msg=0A1B size=1234 tls=true auth=""`},
		{"warning", func(l *slog.Logger) {
			l.Warn("auth failed", "client", "192.0.2.1", "user", "a@example.org")
		}, `Nov  1 01:02:03 mx postern[812]: warning: auth failed client=192.0.2.1 user=a@example.org`},
		{"error value", func(l *slog.Logger) {
			l.Error("spool write failed", "err", errors.New("disk full"))
		}, `Nov  1 01:02:03 mx postern[812]: error: spool write failed err="disk full"`},
		{"debug", func(l *slog.Logger) { l.Debug("disconnect") },
			`Nov  1 01:02:03 mx postern[812]: debug: disconnect`},
		{"newline injection", func(l *slog.Logger) {
			l.Info("reject", "helo", "x\r\nNov  1 00:00:00 mx postern[1]: accepted")
		}, `Nov  1 01:02:03 mx postern[812]: reject helo="x\r\nNov  1 00:00:00 mx postern[1]: accepted"`},
		{"event that looks like a field", func(l *slog.Logger) { l.Info("a=b") },
			`Nov  1 01:02:03 mx postern[812]: "a=b"`},
		{"groups", func(l *slog.Logger) {
			l.WithGroup("spf").Info("result", "domain", "example.org", slog.Group("d", "x", 1))
		}, `Nov  1 01:02:03 mx postern[812]: result spf.domain=example.org spf.d.x=1`},
		{"secrets", func(l *slog.Logger) {
			l.Info("auth", "user", "a@example.org", "password", "hunter2", "auth_data", "AGFAYgBj", "Token", "t")
		}, `Nov  1 01:02:03 mx postern[812]: auth user=a@example.org password=[redacted] auth_data=[redacted] Token=[redacted]`},
		{"duration and odd key", func(l *slog.Logger) {
			l.Info("delivered", "delay", 1500*time.Millisecond, "a key", "v")
		}, `Nov  1 01:02:03 mx postern[812]: delivered delay=1.5s a_key=v`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, b := newTest(false)
			tt.log(l)
			got := strings.TrimSuffix(b.String(), "\n")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if strings.Count(b.String(), "\n") != 1 {
				t.Errorf("not one line: %q", b.String())
			}
			if _, err := ParseLine(got); err != nil {
				t.Errorf("ParseLine: %v", err)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	l, b := newTest(true)
	l.With("conn", "c1").Warn("auth failed", "client", "192.0.2.1", "user", "a@example.org", "password", "hunter2", "event", "x", "n", 3)
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	want := map[string]any{"time": "2026-11-01T01:02:03Z", "level": "warn", "event": "auth failed", "conn": "c1",
		"client": "192.0.2.1", "user": "a@example.org", "password": Redacted, "attr.event": "x", "n": float64(3)}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("got %v", m)
	}
	if strings.Contains(b.String(), "hunter2") {
		t.Error("password written")
	}
}

func TestLevel(t *testing.T) {
	var b bytes.Buffer
	l := slog.New(New(&b, Options{}))
	l.Debug("hidden")
	if b.Len() != 0 {
		t.Errorf("debug written at the Info level: %q", b.String())
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in    string
		event string
		level string
		f     []Field
		err   bool
	}{
		{in: `Nov 21 01:02:03 mx postern[7]: connect conn=c1 client=192.0.2.1`, event: "connect",
			f: []Field{{"conn", "c1"}, {"client", "192.0.2.1"}}},
		{in: `Nov  1 01:02:03 mx postern[7]: warning: auth failed user="a b"`, event: "auth failed", level: "warning",
			f: []Field{{"user", "a b"}}},
		{in: `Nov  1 01:02:03 mx postern[7]: "a=b" k=""`, event: "a=b", f: []Field{{"k", ""}}},
		{in: `Nov  1 01:02:03 mx postern[7]: shutting down`, event: "shutting down"},
		{in: `Nov  1 01:02:03 mx postern[x]: a`, err: true},
		{in: `Nov  1 01:02:03 mx postern: a`, err: true},
		{in: `2026-11-01 mx postern[1]: a`, err: true},
		{in: `Nov  1 01:02:03 mx postern[7]: a k="open`, err: true},
		{in: `Nov  1 01:02:03 mx postern[7]: a k=v  j=w`, err: true},
		{in: ``, err: true},
	}
	for _, tt := range tests {
		l, err := ParseLine(tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if l.Event != tt.event || l.Level != tt.level || l.PID != 7 || l.Host != "mx" || l.Tag != "postern" {
			t.Errorf("%q: got %+v", tt.in, l)
		}
		if len(l.Fields) != len(tt.f) {
			t.Errorf("%q: fields %v, want %v", tt.in, l.Fields, tt.f)
			continue
		}
		for i := range tt.f {
			if l.Fields[i] != tt.f[i] {
				t.Errorf("%q: field %d = %v, want %v", tt.in, i, l.Fields[i], tt.f[i])
			}
		}
	}
}
