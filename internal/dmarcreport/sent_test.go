package dmarcreport

import (
	"context"
	"testing"
	"time"
)

// The periods of the reports sent, from the file backend's claims.
func TestSentReports(t *testing.T) {
	dir := t.TempDir()
	b, err := NewFileBackend(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	p1, p2, old := period{day, day.Add(24 * time.Hour)}, period{day.Add(24 * time.Hour), day.Add(48 * time.Hour)}, period{day.AddDate(0, -2, 0), day.AddDate(0, -2, 1)}
	for _, key := range []string{p1.sentKey("example.org", "a@r.example"), p1.sentKey("example.net", "b@r.example"), p1.doneKey(),
		p2.sentKey("example.org", "a@r.example"), old.sentKey("example.org", "a@r.example"), startKey} {
		if _, err := b.Claim(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	got, err := SentReports(dir, day.AddDate(0, 0, -30))
	if err != nil {
		t.Fatal(err)
	}
	want := []SentPeriod{{Begin: p2.begin, End: p2.end, Reports: 1}, {Begin: p1.begin, End: p1.end, Reports: 2, Done: true}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, err := SentReports(t.TempDir(), day); err != nil || got != nil {
		t.Errorf("no record: %v %v", got, err)
	}
}
