package users

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "users"))
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	pw := func(p string) func() (string, error) {
		return func() (string, error) { asked++; return p, nil }
	}
	if err := s.Apply("add", "a@example.test", pw("one")); err != nil {
		t.Fatal(err)
	}
	// Nobody types a password for a user that exists, or does not.
	if err := s.Apply("add", "a@example.test", pw("x")); !errors.Is(err, ErrExists) {
		t.Errorf("second add: %v", err)
	}
	if err := s.Apply("passwd", "b@example.test", pw("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("passwd of nobody: %v", err)
	}
	if asked != 1 {
		t.Errorf("password asked %d times", asked)
	}
	if err := s.Apply("passwd", "a@example.test", pw("two")); err != nil || !s.Verify("a@example.test", "two") {
		t.Errorf("passwd: %v", err)
	}
	if err := s.Apply("add", "c@example.test", func() (string, error) { return "", errors.New("empty password") }); err == nil || s.Exists("c@example.test") {
		t.Errorf("add without a password: %v", err)
	}
	steps := []struct{ action, want string }{
		{"suspend", "a@example.test (suspended)"},
		{"revoke", "a@example.test (suspended, revoked)"},
		{"resume", "a@example.test (revoked)"},
	}
	for _, st := range steps {
		if err := s.Apply(st.action, "a@example.test", nil); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
		if got := s.Describe("a@example.test"); got != st.want {
			t.Errorf("after %s: %q, want %q", st.action, got, st.want)
		}
	}
	if err := s.Apply("del", "a@example.test", nil); err != nil || s.Exists("a@example.test") {
		t.Errorf("del: %v", err)
	}
	if err := s.Apply("frob", "a@example.test", nil); err == nil || IsAction("frob") || !IsAction("revoke") {
		t.Errorf("unknown action: %v", err)
	}
}

func TestPasswordSource(t *testing.T) {
	for in, want := range map[string]string{"s3cret\n": "s3cret", "n3w\r\nignored\n": "n3w", "last": "last", "\n": "error: empty password", "": "error: no password on standard input"} {
		p, err := PasswordSource{In: strings.NewReader(in), Stdin: true}.Read()
		if err != nil {
			p = "error: " + err.Error()
		}
		if p != want {
			t.Errorf("%q: %q, want %q", in, p, want)
		}
	}
	if _, err := (PasswordSource{In: strings.NewReader("x\n")}).Read(); err == nil || !strings.Contains(err.Error(), "not a terminal") {
		t.Errorf("not a terminal: %v", err)
	}
}
