package console

import (
	"testing"
	"time"
)

// A session ends after IdleTimeout without a request and MaxAge after the
// login, whichever comes first; ids are new at every login.
func TestSessionExpiry(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ss := newSessions(func() time.Time { return now })
	a := ss.start("a@example.test")
	if b := ss.start("a@example.test"); b.id == a.id || b.csrf == a.csrf || len(a.id) != 43 {
		t.Fatalf("ids %q %q", a.id, b.id)
	}
	// Kept alive by requests, until MaxAge.
	for elapsed := time.Duration(0); elapsed < MaxAge-IdleTimeout; elapsed += IdleTimeout - time.Minute {
		now = now.Add(IdleTimeout - time.Minute)
		if ss.get(a.id) == nil {
			t.Fatalf("ended after %v of use", elapsed)
		}
	}
	now = now.Add(IdleTimeout)
	if ss.get(a.id) != nil {
		t.Fatal("lives past MaxAge")
	}
	c := ss.start("c@example.test")
	now = now.Add(IdleTimeout + time.Second)
	if ss.get(c.id) != nil {
		t.Fatal("lives past IdleTimeout")
	}
	d := ss.start("d@example.test")
	ss.end(d.id)
	if ss.get(d.id) != nil || ss.get("") != nil {
		t.Fatal("ended session or empty id found")
	}
}

// The sessions are bounded: the least recently used goes first.
func TestSessionBound(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ss := newSessions(func() time.Time { return now })
	first := ss.start("first@example.test")
	for i := 1; i < maxSessions; i++ {
		now = now.Add(time.Millisecond)
		ss.start("x@example.test")
	}
	now = now.Add(time.Millisecond)
	ss.start("last@example.test")
	if ss.get(first.id) != nil || len(ss.m) != maxSessions {
		t.Fatalf("%d sessions, first kept: %v", len(ss.m), ss.get(first.id) != nil)
	}
}
