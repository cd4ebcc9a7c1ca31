package dmarcreport

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func testLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestFileBackend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := NewFileBackend(dir, testLog())
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Minute)
	for i, at := range []time.Time{day1, day1, day2} {
		e := Evaluation{Time: at, SourceIP: "192.0.2.1", HeaderFrom: "example.com", Result: "pass", Disposition: "none",
			SPF: SPFAuth{Domain: "example.com", Result: "pass"}}
		if i == 2 {
			e.SourceIP = "2001:db8::1"
		}
		if err := b.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	count := func(begin, end time.Time) int {
		n := 0
		if err := b.Scan(ctx, begin, end, func(Evaluation) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(day1.Truncate(24*time.Hour), day1.Truncate(24*time.Hour).Add(24*time.Hour)); n != 2 {
		t.Errorf("day 1: %d evaluations, want 2", n)
	}
	if n := count(day1.Add(-time.Hour), day2.Add(time.Hour)); n != 3 {
		t.Errorf("both days: %d, want 3", n)
	}

	// A crash tears the last line; it is skipped, and the next append
	// starts on a fresh line so nothing else is lost.
	p := filepath.Join(dir, "2026-03-02.jsonl")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"t":"2026-03-02T00:03:00Z","ip":"192.0`)
	f.Close()
	if n := count(day2, day2.Add(time.Hour)); n != 1 {
		t.Errorf("with torn line: %d, want 1", n)
	}
	b2, _ := NewFileBackend(dir, testLog())
	if err := b2.Append(ctx, Evaluation{Time: day2.Add(time.Minute), SourceIP: "192.0.2.9", HeaderFrom: "example.org"}); err != nil {
		t.Fatal(err)
	}
	b2.Close()
	if n := count(day2, day2.Add(time.Hour)); n != 2 {
		t.Errorf("after append past torn line: %d, want 2", n)
	}

	// Claims are exclusive.
	for i, want := range []bool{true, false} {
		got, err := b.Claim(ctx, "aggregate-1-2")
		if err != nil || got != want {
			t.Errorf("claim %d: %v %v, want %v", i, got, err, want)
		}
	}
	if _, err := b.Claim(ctx, "../x"); err == nil {
		t.Error("claim key with a slash accepted")
	}
	if err := b.Prune(day2); err != nil {
		t.Fatal(err)
	}
	if n := count(day1.Add(-time.Hour), day2.Add(time.Hour)); n != 2 {
		t.Errorf("after prune of day 1: %d, want 2", n)
	}
}

func TestDecodeLine(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{"t":"2026-03-01T00:00:00Z","ip":"192.0.2.1","from":"example.com","spf":{"domain":"example.com","result":"pass"},"result":"pass","disposition":"none"}`, true},
		{`{"t":"2026-03-01T00:00:00Z","from":"example.com","policy":{"domain":"example.com","p":"reject","rua":["mailto:a@example.com"]}}`, true},
		{`{"t":"2026-03-01T00:00:00Z","ip":"192.0.2.300","from":"example.com"}`, false},
		{`{"t":"2026-03-01T00:00:00Z","ip":"192.0.2.1"}`, false},
		{`{"ip":"192.0.2.1","from":"example.com"}`, false},
		{`{"t":"2026-03-01T00:00:00Z","from":"example.com","policy":{"p":"reject"}}`, false},
		{`{"t":"2026-03-01T00:00:00Z","ip":"192.0`, false},
		{``, false},
		{`[]`, false},
	} {
		_, err := DecodeLine([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("DecodeLine(%q): err %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

func FuzzDecodeLine(f *testing.F) {
	f.Add([]byte(`{"t":"2026-03-01T00:00:00Z","ip":"192.0.2.1","from":"example.com","spf":{"domain":"example.com","result":"pass"},"dkim":[{"domain":"example.com","result":"pass"}],"result":"pass","disposition":"none","policy":{"domain":"example.com","p":"reject","sp":"reject","pct":100,"rua":["mailto:a@example.com!10485760"]}}`))
	f.Add([]byte(`{"t":"2026-03-01T00:00:00Z","ip":"192.0`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeLine(b)
		if err != nil {
			return
		}
		if e.Time.IsZero() || e.HeaderFrom == "" {
			t.Fatalf("accepted incomplete evaluation %+v", e)
		}
		// Whatever decodes must render as a schema-shaped record.
		r := recordOf(e)
		if len(r.AuthResults.SPF) != 1 || r.Row.PolicyEvaluated.Disposition == "" {
			t.Fatalf("record %+v", r)
		}
	})
}
