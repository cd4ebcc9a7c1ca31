package spool

import (
	"testing"
	"time"
)

// TestRemovalJoinsCommit: the directory sync after a removal waits for
// the next commit and is covered by that commit's batch (one batch, one
// directory fsync for both); with no commit coming it syncs alone after
// removalWait, never returning before a directory fsync that began after
// it was asked for.
func TestRemovalJoinsCommit(t *testing.T) {
	s := newDeliveringSpool(t)
	defer s.Close()
	g := &s.group

	// Alone: one batch of its own, after removalWait.
	start := time.Now()
	if err := g.syncRemoval(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < removalWait {
		t.Errorf("a lone removal's sync returned after %v, before removalWait", d)
	}
	if n := g.batches.Load(); n != 1 {
		t.Fatalf("%d batches for a lone removal, want 1", n)
	}

	// With a commit coming: the removal waits for it and shares its batch.
	done := make(chan time.Time)
	go func() {
		if err := g.syncRemoval(); err != nil {
			t.Error(err)
		}
		done <- time.Now()
	}()
	waitFor(t, "the removal's request", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.pending) == 1
	})
	select {
	case <-done:
		t.Fatal("the removal's sync returned before any directory fsync")
	case <-time.After(removalWait / 5):
	}
	committed := time.Now()
	submit(t, s, "Subject: x\r\n\r\nbody\r\n", "a@example.test")
	at := <-done
	if at.Before(committed) {
		t.Error("the removal's sync returned before the commit's batch")
	}
	if n := g.batches.Load(); n != 2 {
		t.Errorf("%d batches in all, want 2: the removal was not covered by the commit's", n)
	}
	time.Sleep(2 * removalWait) // the removal's timer finds nothing left to do
	if n := g.batches.Load(); n != 2 {
		t.Errorf("%d batches after the timer, want 2", n)
	}
}
