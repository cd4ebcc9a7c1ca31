package dmarcreport

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A node that reported on its own joins a shared store: the period it
// reported is not reported again by the fleet, the mail of the period it
// had not reported yet is, once, and adopting again copies nothing.
func TestAdopt(t *testing.T) {
	srv := scheduleZone(t)
	hour := time.Now().UTC().Truncate(time.Hour)
	c := &clock{hour.Add(-time.Hour + 10*time.Minute)}
	localDir := t.TempDir()
	local, lb := scheduleReporter(t, localDir, srv, c, time.Hour)
	tick(t, local, nil) // reports are running on this node
	record(t, lb, c.now, "example.com", "mailto:dmarc@example.com")
	c.now = hour.Add(5 * time.Minute)
	if sent := tick(t, local, nil); len(sent) != 1 {
		t.Fatalf("the node's own report of the last hour: %d sent", len(sent))
	}
	record(t, lb, c.now, "example.com", "mailto:dmarc@example.com") // not reported yet
	lb.Close()

	shared, err := NewFileBackend(t.TempDir(), testLog()) // as Redis or PostgreSQL would
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := Adopt(context.Background(), localDir, shared, testLog()); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	shared.Scan(context.Background(), hour.Add(-2*time.Hour), hour.Add(2*time.Hour), func(Evaluation) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d evaluations copied, want the one not reported", n)
	}
	fleet := testReporter(t, shared, srv, c, time.Hour)
	if sent := tick(t, fleet, nil); len(sent) != 0 {
		t.Errorf("the fleet sent %d reports for the hour the node had reported", len(sent))
	}
	c.now = hour.Add(time.Hour + 5*time.Minute)
	if sent := tick(t, fleet, nil); len(sent) != 1 {
		t.Errorf("the fleet sent %d reports for the hour the node had not reported, want 1", len(sent))
	}
	if err := Adopt(context.Background(), filepath.Join(t.TempDir(), "none"), shared, testLog()); err != nil {
		t.Errorf("a node without a store of its own: %v", err)
	}
	if _, err := os.Stat(filepath.Join(localDir, "sent", adoptedKey)); err != nil {
		t.Errorf("the node's store is not marked adopted: %v", err)
	}
}
