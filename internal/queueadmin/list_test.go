package queueadmin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"postern/internal/spool"
)

func TestWriteList(t *testing.T) {
	now := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	items := []spool.Item{
		{ID: "A1", From: "alice@example.org", Arrived: now.Add(-90 * time.Minute), Size: 22, Rcpts: []string{"bob@example.test", "carol@remote.example"},
			Attempts: 2, LastError: "451 try\nlater"},
		{ID: "A2", Size: 10, Held: true, Rcpts: []string{"x@example.test"}},
		{ID: "A3", Arrived: now.Add(-3 * 24 * time.Hour), Slow: true, Rcpts: []string{"y@example.test"}},
	}
	var b bytes.Buffer
	WriteList(&b, items, now)
	for _, want := range []string{"ID  ", "alice@example.org", "<>", "bob@example.test,carol@remote.example", " 1h ", "(2 tries) 451 try\\nlater",
		"(held) -", "(slow lane) -", " 3d ", "3 message(s), 32 bytes"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("listing lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	WriteList(&b, nil, now)
	if b.String() != "queue is empty\n" {
		t.Errorf("empty: %q", b.String())
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{-time.Second: "0s", 45 * time.Second: "45s", 12 * time.Minute: "12m", 47 * time.Hour: "47h", 50 * time.Hour: "2d"} {
		if got := ShortDuration(d); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
	if got := OneLine("a\r\nb\x7f"); got != `a\r\nb\x7f` {
		t.Errorf("OneLine: %s", got)
	}
}
