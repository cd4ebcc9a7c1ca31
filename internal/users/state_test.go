package users

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSuspendResumeRevoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add("a@example.org", "secret-1"); err != nil {
		t.Fatal(err)
	}
	if st := s.State("a@example.org"); !st.Exists || st.Suspended || st.Revoked {
		t.Fatalf("new user state %+v", st)
	}
	if err := s.Suspend("A@example.org"); err != nil {
		t.Fatal(err)
	}
	if !s.Suspended("a@example.org") || s.Verify("a@example.org", "secret-1") {
		t.Error("suspended user can log in")
	}
	// Old readers and tools see the same file layout: one address:hash line.
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "a@example.org:!$argon2id$") {
		t.Errorf("file: %q", data)
	}
	// Reopening reads the state back.
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Suspended("a@example.org") {
		t.Error("suspension lost on reopen")
	}
	if err := s.Passwd("a@example.org", "secret-2"); err != nil {
		t.Fatal(err)
	}
	if !s.Suspended("a@example.org") {
		t.Error("passwd lifted the suspension")
	}
	if err := s.Resume("a@example.org"); err != nil {
		t.Fatal(err)
	}
	if s.Suspended("a@example.org") || !s.Verify("a@example.org", "secret-2") {
		t.Error("resumed user cannot log in")
	}
	if err := s.Revoke("a@example.org"); err != nil {
		t.Fatal(err)
	}
	if st := s.State("a@example.org"); !st.Revoked || st.Suspended {
		t.Errorf("revoked state %+v", st)
	}
	if s.Verify("a@example.org", "secret-2") || s.Verify("a@example.org", "*") {
		t.Error("revoked user can log in")
	}
	if err := s.Suspend("a@example.org"); err != nil {
		t.Fatal(err)
	}
	if st := s.State("a@example.org"); !st.Revoked || !st.Suspended {
		t.Errorf("revoked+suspended state %+v", st)
	}
	if _, err := Open(path); err != nil {
		t.Errorf("file with !* does not load: %v", err)
	}
	if err := s.Passwd("a@example.org", "secret-3"); err != nil {
		t.Fatal(err)
	}
	s.Resume("a@example.org")
	if !s.Verify("a@example.org", "secret-3") {
		t.Error("new password after revoke does not work")
	}
	if err := s.Suspend("nobody@example.org"); err == nil {
		t.Error("suspending an unknown user worked")
	}
}

func TestParseStates(t *testing.T) {
	for _, h := range []string{"*", "!*", "!$2y$10$abcdefghijklmnopqrstuuWGVvWGcVzNyiS1N3oZFsK6xJ1Q3e8xW"} {
		if _, err := parse("users", []byte("a@example.org:"+h+"\n")); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	for _, h := range []string{"!", "!!*", "**", "!x"} {
		if _, err := parse("users", []byte("a@example.org:"+h+"\n")); err == nil {
			t.Errorf("%s: accepted", h)
		}
	}
}

// The admin role is a mark in the hash field; every state change keeps
// the marks it does not change, and only admins pass VerifyAdmin.
func TestAdminRole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const a = "a@example.test"
	if err := s.Add(a, "pw"); err != nil {
		t.Fatal(err)
	}
	if s.VerifyAdmin(a, "pw") {
		t.Error("a user is an admin before grant-admin")
	}
	steps := []struct {
		action, want string
		admin        bool // VerifyAdmin with the right password afterwards
	}{
		{"grant-admin", a + " (admin)", true},
		{"grant-admin", a + " (admin)", true},
		{"suspend", a + " (admin, suspended)", false},
		{"resume", a + " (admin)", true},
		{"revoke", a + " (admin, revoked)", false},
		{"revoke-admin", a + " (revoked)", false},
		{"grant-admin", a + " (admin, revoked)", false},
	}
	for _, st := range steps {
		if err := s.Apply(st.action, a, nil); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
		if got := s.Describe(a); got != st.want {
			t.Errorf("after %s: %q, want %q", st.action, got, st.want)
		}
		if got := s.VerifyAdmin(a, "pw"); got != st.admin {
			t.Errorf("after %s: VerifyAdmin %v", st.action, got)
		}
	}
	if err := s.Passwd(a, "new"); err != nil {
		t.Fatal(err)
	}
	if !s.VerifyAdmin(a, "new") || s.VerifyAdmin(a, "pw") || !s.Verify(a, "new") {
		t.Error("passwd lost the admin role or the new password")
	}
	if s.VerifyAdmin("nobody@example.test", "new") {
		t.Error("an unknown user is an admin")
	}
	if err := s.GrantAdmin("nobody@example.test"); err == nil {
		t.Error("grant-admin of nobody")
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), a+":+$argon2id$") {
		t.Errorf("file: %q", data)
	}
	// The file reads the same when opened again.
	s2, err := Open(path)
	if err != nil || !s2.State(a).Admin || !s2.VerifyAdmin(a, "new") {
		t.Errorf("reopened: %v %+v", err, s2.State(a))
	}
}

// Marks parse in one order only: "!+" is a suspended admin, "+!" is no
// hash scheme at all.
func TestAdminMarkParse(t *testing.T) {
	h, err := Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	for field, ok := range map[string]bool{
		h: true, "+" + h: true, "!+" + h: true, "+*": true, "!+*": true,
		"+!" + h: false, "++" + h: false, "+": false,
	} {
		_, err := parse("users", []byte("a@example.test:"+field+"\n"))
		if (err == nil) != ok {
			t.Errorf("%q: %v", field, err)
		}
	}
}
