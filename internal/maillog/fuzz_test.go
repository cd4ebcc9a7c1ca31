package maillog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

type contextT = context.Context

// FuzzRoundTrip writes an event with one field and reads it back: any
// event and value make exactly one line that parses to what was written.
func FuzzRoundTrip(f *testing.F) {
	f.Add("connect", "client", "192.0.2.1")
	f.Add("auth failed", "user", "a b\r\nc")
	f.Add("a=b", "k", "")
	f.Add(" x ", "k=", `"\`)
	f.Fuzz(func(t *testing.T, event, key, value string) {
		var b bytes.Buffer
		slog.New(New(&b, Options{Hostname: "mx", PID: 1})).Info(event, key, value)
		out := b.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("not one line: %q", out)
		}
		l, err := ParseLine(out)
		if err != nil {
			t.Fatalf("ParseLine(%q): %v", out, err)
		}
		if utf8.ValidString(event) && l.Event != event {
			t.Errorf("event %q read back as %q", event, l.Event)
		}
		if key == "" {
			return
		}
		if len(l.Fields) != 1 {
			t.Fatalf("fields %v from %q", l.Fields, out)
		}
		want := value
		if Secret(key) {
			want = Redacted
		}
		if utf8.ValidString(value) && l.Fields[0].Value != want {
			t.Errorf("value %q read back as %q", value, l.Fields[0].Value)
		}
	})
}

// FuzzParseLine feeds arbitrary lines to the parser.
func FuzzParseLine(f *testing.F) {
	f.Add(`Nov 21 01:02:03 mx postern[7]: connect conn=c1 client=192.0.2.1`)
	f.Add(`Nov  1 01:02:03 mx postern[7]: warning: "a=b" k="x\"y"`)
	f.Fuzz(func(t *testing.T, s string) {
		ParseLine(s)
	})
}
