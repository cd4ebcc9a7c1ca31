package backupmx

import (
	"fmt"
	"testing"
	"time"

	"postern/internal/smtp"
)

func TestCache(t *testing.T) {
	refused := &smtp.Reply{Code: 550, Enhanced: "5.1.1", Text: "User unknown"}
	later := &smtp.Reply{Code: 450, Enhanced: "4.2.0", Text: "greylisted"}
	type step struct {
		after time.Duration // the clock moves on first
		put   bool          // Put reply, else Get
		addr  string
		reply *smtp.Reply
		found bool // for Get
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"accepted kept for Positive", []step{
			{0, true, "bob@example.org", nil, false},
			{59 * time.Minute, false, "bob@example.org", nil, true},
			{time.Minute, false, "bob@example.org", nil, false},
		}},
		{"refused kept for Negative", []step{
			{0, true, "gone@example.org", refused, false},
			{9 * time.Minute, false, "gone@example.org", refused, true},
			{time.Minute, false, "gone@example.org", nil, false},
		}},
		{"4xx is no answer", []step{
			{0, true, "grey@example.org", later, false},
			{0, false, "grey@example.org", nil, false},
		}},
		{"domain case ignored, local part kept", []step{
			{0, true, "Bob@Example.ORG", nil, false},
			{0, false, "Bob@example.org", nil, true},
			{0, false, "bob@example.org", nil, false},
		}},
		{"a refusal replaces an acceptance", []step{
			{0, true, "bob@example.org", nil, false},
			{0, true, "bob@example.org", refused, false},
			{0, false, "bob@example.org", refused, true},
		}},
	}
	for _, tt := range tests {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		c := &Cache{Positive: time.Hour, Negative: 10 * time.Minute, Now: func() time.Time { return now }}
		for i, s := range tt.steps {
			now = now.Add(s.after)
			if s.put {
				c.Put(s.addr, s.reply)
				continue
			}
			rep, found := c.Get(s.addr)
			if found != s.found || rep != s.reply {
				t.Errorf("%s, step %d: Get(%s) = %v, %v; want %v, %v", tt.name, i, s.addr, rep, found, s.reply, s.found)
			}
		}
	}
}

// The cache never holds more than Size answers: the expired go first,
// then the one closest to expiry.
func TestCacheBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Cache{Positive: time.Hour, Negative: time.Hour, Size: 3, Now: func() time.Time { return now }}
	for i := range 3 {
		c.Put(fmt.Sprintf("u%d@example.org", i), nil)
		now = now.Add(time.Minute)
	}
	c.Put("u3@example.org", nil)
	if c.Len() != 3 {
		t.Fatalf("len %d, want 3", c.Len())
	}
	if _, ok := c.Get("u0@example.org"); ok {
		t.Error("the oldest answer was kept")
	}
	for _, a := range []string{"u1@example.org", "u2@example.org", "u3@example.org"} {
		if _, ok := c.Get(a); !ok {
			t.Errorf("%s dropped", a)
		}
	}
	now = now.Add(2 * time.Hour)
	for i := range 10 {
		c.Put(fmt.Sprintf("v%d@example.org", i), nil)
		if c.Len() > 3 {
			t.Fatalf("len %d after %d puts", c.Len(), i)
		}
	}
	var nilCache *Cache
	nilCache.Put("a@example.org", nil)
	if _, ok := nilCache.Get("a@example.org"); ok {
		t.Error("a nil cache found an answer")
	}
}
