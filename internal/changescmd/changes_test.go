package changescmd

import (
	"bytes"
	"strings"
	"testing"

	"postern/internal/changelog"
)

func TestResult(t *testing.T) {
	tests := []struct {
		e      changelog.Entry
		config bool
		want   string
	}{
		{changelog.Entry{Applied: true}, false, "applied"},
		{changelog.Entry{Applied: true}, true, "ok (takes effect at the next restart)"},
		{changelog.Entry{Check: "f:1: bad\nf:2: worse"}, false, "rejected: f:1: bad"},
	}
	for _, tt := range tests {
		if got := result(tt.e, tt.config); got != tt.want {
			t.Errorf("result(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestStillRejected(t *testing.T) {
	list := []changelog.Entry{ // newest first
		{N: 5, File: "a", Applied: true},
		{N: 4, File: "b"},
		{N: 3, File: "a"},
		{N: 2, File: "c"},
	}
	got := stillRejected(list, 4)
	if len(got) != 2 || got[0].N != 4 || got[1].N != 2 {
		t.Fatalf("stillRejected = %+v", got)
	}
	if got := stillRejected(list, 3); len(got) != 1 || got[0].N != 2 {
		t.Fatalf("stillRejected before 3 = %+v", got)
	}
}

func TestUsage(t *testing.T) {
	var out, errw bytes.Buffer
	for _, args := range [][]string{{}, {"show"}, {"show", "x"}, {"show", "0"}, {"list", "1"}} {
		errw.Reset()
		if code := runChanges(args, &out, &errw); code != 2 || !strings.Contains(errw.String(), "usage: postern changes") {
			t.Errorf("changes %q: %d %q", args, code, errw.String())
		}
	}
	if code := runRollback([]string{"x"}, &out, &errw); code != 2 {
		t.Errorf("rollback x: %d", code)
	}
	if code := runReload([]string{"extra"}, &out, &errw); code != 2 {
		t.Errorf("reload extra: %d", code)
	}
}
