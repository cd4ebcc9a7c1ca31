package users

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"# comment: kept\n\n", "# comment: kept\n\n"},
		{"a@example.test:$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\n", "a@example.test:(hash dd0e8303)\n"},
		{"b@example.test:x", "b@example.test:(hash 2d711642)"},
	}
	for _, tt := range tests {
		got := Redact(tt.in)
		if got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "argon2id") {
			t.Errorf("Redact(%q) kept the hash", tt.in)
		}
	}
	if Redact("a@x:h1\n") == Redact("a@x:h2\n") {
		t.Error("two hashes redact the same")
	}
}
