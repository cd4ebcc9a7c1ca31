package maps

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

// bump writes a file and moves its mtime forward so that a change is seen
// even within the file system's timestamp granularity.
func bump(t *testing.T, path, s string) {
	t.Helper()
	writeFile(t, path, s)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

func TestSetLoadMissingFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, FileAccess), "Connect:192.0.2 REJECT\n")
	var logs bytes.Buffer
	s, err := Open(dir, newLogger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	m := s.Maps()
	if _, ok := m.Access.Connect(netip.MustParseAddr("192.0.2.1"), ""); !ok {
		t.Error("access not loaded")
	}
	// Missing files are empty maps, and lookups on them are safe.
	if _, ok := m.RelayDomains.Contains("example.com"); ok {
		t.Error("empty relay-domains matched")
	}
	if x := m.Aliases.Expand("root", ExpandOptions{}); x.Found {
		t.Error("empty aliases matched")
	}
	if _, ok := m.Virtusertable.Lookup("a@b.example"); ok {
		t.Error("empty virtusertable matched")
	}
	if _, ok := m.Mailertable.Lookup("b.example"); ok {
		t.Error("empty mailertable matched")
	}
	if _, ok := m.Genericstable.Lookup("a", GenericsOptions{}); ok {
		t.Error("empty genericstable matched")
	}
	if _, ok := m.LocalHostNames.Contains("x"); ok {
		t.Error("empty local-host-names matched")
	}
	if !strings.Contains(logs.String(), "map loaded") {
		t.Errorf("no load log: %s", logs.String())
	}
}

func TestSetReloadKeepsPreviousOnError(t *testing.T) {
	dir := t.TempDir()
	acc := filepath.Join(dir, FileAccess)
	vt := filepath.Join(dir, FileVirtusertable)
	writeFile(t, acc, "Connect:192.0.2 REJECT\n")
	writeFile(t, vt, "a@example.com alice\n")
	var logs bytes.Buffer
	s, err := Open(dir, newLogger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	before := s.Maps()

	// A broken access map and a good virtusertable change together.
	bump(t, acc, "Connect:192.0.2 REJECT\nConnect:198.51.100 MAYBE\n")
	bump(t, vt, "a@example.com bob\n")
	err = s.Reload()
	if err == nil || !strings.Contains(err.Error(), "access:2: unknown value") {
		t.Fatalf("Reload error = %v", err)
	}
	m := s.Maps()
	if m.Access != before.Access {
		t.Error("broken access map replaced the previous one")
	}
	if r, _ := m.Virtusertable.Lookup("a@example.com"); r.Address != "bob" {
		t.Errorf("virtusertable not reloaded: %+v", r)
	}
	if before.Virtusertable == m.Virtusertable {
		t.Error("old snapshot changed under a reader")
	}
	if r, _ := before.Virtusertable.Lookup("a@example.com"); r.Address != "alice" {
		t.Error("old snapshot was mutated")
	}
	if e := s.Errors(); e == nil || !strings.Contains(e.Error(), "unknown value") {
		t.Errorf("Errors() = %v", e)
	}
	if !strings.Contains(logs.String(), "previous version kept") {
		t.Errorf("log: %s", logs.String())
	}

	// Polling does not retry the broken version; fixing the file does.
	if err := s.ReloadChanged(); err != nil {
		t.Errorf("ReloadChanged on unchanged files: %v", err)
	}
	bump(t, acc, "Connect:198.51.100 REJECT\n")
	if err := s.ReloadChanged(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Maps().Access.Connect(netip.MustParseAddr("198.51.100.1"), ""); !ok {
		t.Error("fixed access map not loaded")
	}
	if s.Errors() != nil {
		t.Errorf("Errors() after fix = %v", s.Errors())
	}
	// Removing a file empties its map.
	if err := os.Remove(vt); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadChanged(); err != nil {
		t.Fatal(err)
	}
	if s.Maps().Virtusertable.Len() != 0 {
		t.Error("removed virtusertable still in force")
	}
}

func TestSetOpenReportsAllErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, FileAccess), "From:x@example.com MAYBE\n")
	writeFile(t, filepath.Join(dir, FileMailertable), "example.com ftp:x\n")
	writeFile(t, filepath.Join(dir, FileRelayDomains), "partner.example\n")
	s, err := Open(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "access:1") || !strings.Contains(err.Error(), "mailertable:1") {
		t.Fatalf("Open error = %v", err)
	}
	if _, ok := s.Maps().RelayDomains.Contains("partner.example"); !ok {
		t.Error("good map not loaded next to broken ones")
	}
	m, err := Load(dir)
	if err == nil || m.RelayDomains.Len() != 1 {
		t.Errorf("Load = %v, %v", m, err)
	}
}

func TestSetWatch(t *testing.T) {
	dir := t.TempDir()
	rd := filepath.Join(dir, FileRelayDomains)
	writeFile(t, rd, "one.example\n")
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { s.Watch(ctx, 20*time.Millisecond, hup); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// A change on disk is picked up by polling.
	bump(t, rd, "two.example\n")
	waitFor("poll reload", func() bool { _, ok := s.Maps().RelayDomains.Contains("two.example"); return ok })

	// SIGHUP rereads even when the stamp looks unchanged.
	fi, _ := os.Stat(rd)
	writeFile(t, rd, "six.example\n") // same size as before
	if err := os.Chtimes(rd, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	waitFor("hup reload", func() bool { _, ok := s.Maps().RelayDomains.Contains("six.example"); return ok })
}

// Lookups run while maps are reloaded; run with -race.
func TestSetConcurrentLookups(t *testing.T) {
	dir := t.TempDir()
	acc := filepath.Join(dir, FileAccess)
	writeFile(t, acc, "Connect:192.0.2 REJECT\n")
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := netip.MustParseAddr("192.0.2.1")
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, ok := s.Maps().Access.Connect(ip, ""); !ok {
					t.Error("lookup saw a map without the entry")
					return
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		bump(t, acc, "Connect:192.0.2 REJECT\n# "+strings.Repeat("x", i)+"\n")
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestSetUnreadableFileLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	acc := filepath.Join(dir, FileAccess)
	if err := os.Symlink(acc, acc); err != nil { // a symlink loop: stat fails
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err := Open(dir, newLogger(&logs))
	if err == nil {
		t.Fatal("Open: no error for an unreadable access map")
	}
	n := strings.Count(logs.String(), "previous version kept")
	for i := 0; i < 3; i++ {
		if err := s.ReloadChanged(); err != nil {
			t.Errorf("ReloadChanged retried an unchanged failure: %v", err)
		}
	}
	if strings.Count(logs.String(), "previous version kept") != n {
		t.Errorf("failure logged again:\n%s", logs.String())
	}
	if err := os.Remove(acc); err != nil {
		t.Fatal(err)
	}
	writeFile(t, acc, "Connect:192.0.2 REJECT\n")
	if err := s.ReloadChanged(); err != nil {
		t.Fatal(err)
	}
	if s.Maps().Access.Len() != 1 || s.Errors() != nil {
		t.Errorf("access not loaded after the fix: %v", s.Errors())
	}
}
