package changelog

import (
	"fmt"
	"strings"
	"testing"

	"postern/internal/privs"
)

func TestStore(t *testing.T) {
	s, err := Open(t.TempDir(), privs.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		v        Version
		recorded bool
		kind     string
		diff     string
	}{
		{Version{File: "/m/access", Data: []byte("a OK\n"), Who: "root", Applied: true, Check: "ok"}, true, "first", ""},
		{Version{File: "/m/access", Data: []byte("a OK\n"), Who: "root", Applied: true, Check: "ok"}, false, "first", ""},
		{Version{File: "/etc/p.toml", Data: []byte("x = 1\n"), Who: "root", Applied: true, Check: "ok"}, true, "first", ""},
		{Version{File: "/m/access", Data: []byte("a REJECT\n"), Who: "bob", Applied: false, Check: "bad"}, true, "change", "-a OK\n+a REJECT\n"},
		{Version{File: "/m/access", Data: []byte("a OK\n"), Who: "bob", Kind: "rollback", Applied: true, Check: "ok"}, true, "rollback", "-a REJECT\n+a OK\n"},
	}
	for i, st := range steps {
		e, rec, err := s.Record(st.v)
		if err != nil || rec != st.recorded || e.Kind != st.kind || !strings.Contains(e.Diff, st.diff) {
			t.Fatalf("step %d: %+v recorded %v, %v", i, e, rec, err)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 4 || list[0].N != 4 || list[3].N != 1 || list[0].Diff != "" {
		t.Fatalf("List: %+v, %v", list, err)
	}
	e, err := s.Get(3)
	if err != nil || e.Applied || e.Check != "bad" || !strings.HasPrefix(e.Diff, "--- access (change 1)\n+++ access (change 3)\n") {
		t.Fatalf("Get(3): %+v, %v", e, err)
	}
	if d, err := s.Data(3); err != nil || string(d) != "a REJECT\n" {
		t.Fatalf("Data(3): %q, %v", d, err)
	}
	if _, err := s.Get(9); err == nil || !strings.Contains(err.Error(), "no change 9") {
		t.Fatalf("Get(9): %v", err)
	}
	if l, ok, err := s.Latest("/etc/p.toml"); err != nil || !ok || l.N != 2 {
		t.Fatalf("Latest: %+v %v %v", l, ok, err)
	}
	if s.Newest() != 4 {
		t.Fatalf("Newest = %d", s.Newest())
	}
	// Redact changes the diff, never the copy kept.
	hide := func(s string) string { return strings.ReplaceAll(s, "secret", "***") }
	s.Record(Version{File: "/d/users", Data: []byte("a:secret1\n"), Redact: hide})
	e, _, _ = s.Record(Version{File: "/d/users", Data: []byte("a:secret2\n"), Redact: hide})
	if strings.Contains(e.Diff, "secret") || !strings.Contains(e.Diff, "+a:***2") {
		t.Fatalf("redacted diff %q", e.Diff)
	}
	if d, _ := s.Data(e.N); string(d) != "a:secret2\n" {
		t.Fatalf("copy %q", d)
	}
}

// The store keeps MaxEntries, and always the newest entry of each file.
func TestStorePrune(t *testing.T) {
	s, err := Open(t.TempDir(), privs.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Record(Version{File: "/keep", Data: []byte("once\n")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < MaxEntries+20; i++ {
		if _, _, err := s.Record(Version{File: "/busy", Data: []byte(fmt.Sprintf("v%d\n", i))}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != MaxEntries {
		t.Fatalf("%d entries, %v", len(list), err)
	}
	if last := list[len(list)-1]; last.File != "/keep" {
		t.Fatalf("oldest kept: %+v", last)
	}
	if list[0].N != MaxEntries+21 {
		t.Fatalf("newest: %+v", list[0])
	}
}
