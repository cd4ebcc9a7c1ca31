package changewatch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/changelog"
	"postern/internal/privs"
)

type notices []string

func (n *notices) Notice(ctx context.Context, kind, subject, text string) {
	*n = append(*n, kind+": "+subject)
}

func TestWatcher(t *testing.T) {
	dir := t.TempDir()
	access := filepath.Join(dir, "access")
	users := filepath.Join(dir, "users")
	os.WriteFile(access, []byte("From:a@b.test REJECT\n"), 0o644)
	store, err := changelog.Open(filepath.Join(dir, "changes"), privs.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	files := []File{{Name: access, Path: access, Check: mapCheck}, {Name: users, Path: users, Check: usersCheck}}
	var got notices
	w := New(store, files, nil).WithAlerts(&got)
	steps := []struct {
		data    string
		added   int
		applied bool
		problem string
	}{
		{"", 1, true, ""}, // the first version; the missing users file is not recorded
		{"", 0, true, ""}, // unchanged
		{"From:a@b.test REJECT\nFrom:c@b.test BOGUS\n", 1, false, "change 2 was rejected"},
		{"From:a@b.test OK\n", 1, true, ""},
	}
	for i, st := range steps {
		if st.data != "" {
			os.WriteFile(access, []byte(st.data), 0o644)
		}
		added := w.Pass(true)
		if len(added) != st.added || len(added) > 0 && added[0].Applied != st.applied {
			t.Fatalf("step %d: added %+v", i, added)
		}
		p := strings.Join(w.Problems(), "\n")
		if st.problem == "" && p != "" || !strings.Contains(p, st.problem) {
			t.Fatalf("step %d: problems %q", i, p)
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "change-rejected: ") {
		t.Fatalf("alerts %q", got)
	}
	if err := w.Reload(); err != nil {
		t.Fatalf("Reload with nothing new: %v", err)
	}
	if p := w.Problems(); len(p) != 0 {
		t.Fatalf("problems after a good version: %q", p)
	}
	if !strings.Contains(strings.Join(problemsAfterBroken(t, w, access), "\n"), "postern rollback 3") {
		t.Fatal("the last good version is not named")
	}
}

func problemsAfterBroken(t *testing.T, w *Watcher, access string) []string {
	os.WriteFile(access, []byte("x\n"), 0o644)
	if err := w.Reload(); err == nil || !strings.Contains(err.Error(), "change 4 of "+access+" rejected") {
		t.Fatalf("Reload: %v", err)
	}
	return w.Problems()
}
