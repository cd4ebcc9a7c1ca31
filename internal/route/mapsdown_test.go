package route

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postern/internal/maps"
	"postern/internal/smtp"
)

type downFetcher struct{}

func (downFetcher) Fetch(context.Context, string) ([]byte, error) {
	return nil, errors.New("connection refused")
}
func (downFetcher) Where(file string) string { return "ldap://directory (" + file + ")" }

// TestDeliverMapsUnavailable: while a map from the directory cannot be
// read, every recipient waits with 4xx and nothing is delivered.
func TestDeliverMapsUnavailable(t *testing.T) {
	f := newFixture(t, "staff: alice\n", nil)
	set, err := maps.OpenExternal("", nil, &maps.External{Fetcher: downFetcher{}, Files: []string{maps.FileAliases},
		Refresh: time.Hour, Stale: time.Hour, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.c.Maps = set.Maps
	errs := f.deliver(t, testMsg, "staff@example.test", "carol@example.test")
	for i, err := range errs {
		var r *smtp.Reply
		if !errors.As(err, &r) || !r.Temporary() || !strings.Contains(err.Error(), "aliases") {
			t.Errorf("rcpt %d: %v, want a 4xx naming the map", i, err)
		}
	}
	if n := f.count(t, "carol@example.test"); n != 0 {
		t.Errorf("carol got %d messages while the maps were unavailable", n)
	}
}
