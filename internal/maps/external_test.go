package maps

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fetcher serves one access map, or fails while down is set.
type fetcher struct {
	mu   sync.Mutex
	text string
	down bool
}

func (f *fetcher) Fetch(ctx context.Context, file string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("connection refused")
	}
	return []byte(f.text), nil
}

func (f *fetcher) Where(file string) string { return "ldap://directory (" + file + ")" }

func (f *fetcher) set(text string, down bool) {
	f.mu.Lock()
	f.text, f.down = text, down
	f.mu.Unlock()
}

// TestExternalStale: a map that cannot be read keeps its copy for the
// stale period, is then emptied and unavailable, and comes back when it
// can be read; a bad copy from the source never replaces a good one.
func TestExternalStale(t *testing.T) {
	f := &fetcher{text: "From:spam@bad.example REJECT\n"}
	ext := &External{Fetcher: f, Files: []string{FileAccess}, Refresh: time.Hour, Stale: 300 * time.Millisecond, Timeout: time.Second}
	s, err := OpenExternal(t.TempDir(), nil, ext)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	s.OnUnavailable(func(file, where, reason string) { told = append(told, file+": "+reason) })
	rejects := func() bool {
		e, ok := s.Maps().Access.From("spam@bad.example")
		return ok && e.Action == ActionReject
	}
	if !rejects() || s.Maps().UnavailableText() != "" {
		t.Fatalf("after open: rejects %v, unavailable %q", rejects(), s.Maps().UnavailableText())
	}
	f.set("", true)
	if err := s.Reload(); err == nil {
		t.Fatal("reload from a source that is down succeeded")
	}
	if !rejects() || s.Maps().UnavailableText() != "" {
		t.Fatalf("within the stale period: rejects %v, unavailable %q", rejects(), s.Maps().UnavailableText())
	}
	time.Sleep(350 * time.Millisecond)
	s.Reload()
	if rejects() || !strings.Contains(s.Maps().UnavailableText(), "access (connection refused)") {
		t.Fatalf("after the stale period: rejects %v, unavailable %q", rejects(), s.Maps().UnavailableText())
	}
	s.Reload() // still down: told once, not at every read
	if len(told) != 1 || told[0] != "access: connection refused" {
		t.Fatalf("told %q, want one alert", told)
	}
	f.set("this is not an access line", false)
	s.Reload()
	if s.Maps().UnavailableText() == "" {
		t.Fatal("a map that does not parse made the map available")
	}
	f.set("From:spam@bad.example REJECT\n", false)
	if err := s.Reload(); err != nil || !rejects() || s.Maps().UnavailableText() != "" {
		t.Fatalf("back: err %v, rejects %v, unavailable %q", err, rejects(), s.Maps().UnavailableText())
	}
}

// TestExternalDownAtStart: a source down at start is not an error that
// stops the server; the map is unavailable from the start.
func TestExternalDownAtStart(t *testing.T) {
	f := &fetcher{down: true}
	ext := &External{Fetcher: f, Files: []string{FileVirtusertable}, Refresh: time.Hour, Stale: time.Hour, Timeout: time.Second}
	s, err := OpenExternal("", nil, ext)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if u := s.Maps().Unavailable(); len(u) != 1 || u[0].File != FileVirtusertable {
		t.Fatalf("unavailable = %v", u)
	}
	if s.Errors() == nil {
		t.Fatal("Errors does not report the unreadable map")
	}
}
