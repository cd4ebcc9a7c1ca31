package users

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users")
	s, err := OpenOptions(p, Options{CheckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func TestAddVerifyPasswdDel(t *testing.T) {
	s, p := openTemp(t)
	if got := s.List(); len(got) != 0 {
		t.Fatalf("missing file: List = %v", got)
	}
	if err := s.Add("Alice@Example.TEST.", "correct horse"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(data), "alice@example.test:$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("file = %q", data)
	}
	if !s.Verify("alice@example.test", "correct horse") || !s.Verify("ALICE@example.test", "correct horse") {
		t.Error("right password rejected")
	}
	if s.Verify("alice@example.test", "Correct horse") || s.Verify("alice@example.test", "") {
		t.Error("wrong password accepted")
	}
	if s.Verify("bob@example.test", "correct horse") || s.Verify("not an address", "x") {
		t.Error("unknown user accepted")
	}
	if !s.Exists("alice@EXAMPLE.test") || s.Exists("bob@example.test") {
		t.Error("Exists wrong")
	}
	if err := s.Add("alice@example.test", "other"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate Add = %v, want ErrExists", err)
	}
	if err := s.Add("bob@example.test", ""); err == nil {
		t.Error("empty password accepted")
	}
	if err := s.Passwd("alice@example.test", "battery staple"); err != nil {
		t.Fatal(err)
	}
	if s.Verify("alice@example.test", "correct horse") || !s.Verify("alice@example.test", "battery staple") {
		t.Error("Passwd did not change the password")
	}
	if err := s.Passwd("carol@example.test", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Passwd unknown = %v", err)
	}
	if err := s.Add("bob@example.test", "b"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.List(), " "); got != "alice@example.test bob@example.test" {
		t.Errorf("List = %q", got)
	}
	if err := s.Del("alice@example.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.Del("alice@example.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Del = %v", err)
	}
	if s.Exists("alice@example.test") || s.Verify("alice@example.test", "battery staple") {
		t.Error("deleted user still there")
	}
	fi, _ = os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode after rewrites = %v", fi.Mode().Perm())
	}
	// A fresh Store reads what was written.
	s2, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s2.List(), " "); got != "bob@example.test" || !s2.Verify("bob@example.test", "b") {
		t.Errorf("reopened: List = %q", got)
	}
}

func TestReloadFromAnotherStore(t *testing.T) {
	server, p := openTemp(t)
	admin, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Add("alice@example.test", "pw"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return server.Exists("alice@example.test") })
	if !server.Verify("alice@example.test", "pw") {
		t.Error("server does not verify the new user")
	}
	if err := admin.Del("alice@example.test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !server.Exists("alice@example.test") })
}

func TestReloadKeepsOldDataOnBadFile(t *testing.T) {
	var logbuf bytes.Buffer
	p := filepath.Join(t.TempDir(), "users")
	h, _ := Hash("pw")
	if err := os.WriteFile(p, []byte("# users\nalice@example.test:"+h+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenOptions(p, Options{Log: slog.New(slog.NewTextHandler(&logbuf, nil)), CheckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".new", []byte("alice@example.test:"+h+"\nbroken line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if !s.Exists("alice@example.test") || !s.Verify("alice@example.test", "pw") {
		t.Error("old data dropped after a bad reload")
	}
	if !strings.Contains(logbuf.String(), "users:2: want address:hash") {
		t.Errorf("log = %q, want the file:line of the problem", logbuf.String())
	}
	if err := s.Reload(); err == nil {
		t.Error("Reload of a bad file succeeded")
	}
	// The comment survives a rewrite.
	if err := os.WriteFile(p, []byte("# users\nalice@example.test:"+h+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("bob@example.test", "x"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(data), "# users\nalice@example.test:") || !strings.Contains(string(data), "\nbob@example.test:$argon2id$") {
		t.Errorf("file after Add = %q", data)
	}
}

func TestBcryptAccepted(t *testing.T) {
	p := filepath.Join(t.TempDir(), "users")
	h, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h2y := "$2y$" + string(h[4:])
	text := "alice@example.test:" + string(h) + "\nbob@example.test:" + h2y + "\n"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice@example.test", "bob@example.test"} {
		if !s.Verify(u, "s3cret") {
			t.Errorf("%s: bcrypt password rejected", u)
		}
		if s.Verify(u, "s3cret!") {
			t.Errorf("%s: wrong password accepted", u)
		}
	}
}

func TestUnknownUserSpendsHashTime(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Add("alice@example.test", "pw"); err != nil {
		t.Fatal(err)
	}
	measure := func(addr string) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			s.Verify(addr, "wrong")
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := measure("alice@example.test"), measure("nobody@example.test")
	if unknown < known/3 {
		t.Errorf("unknown user took %v, known %v: timing tells them apart", unknown, known)
	}
}

func TestParse(t *testing.T) {
	h, _ := Hash("pw")
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	tests := []struct {
		name, text string
		users      int
		err        string
	}{
		{"empty", "", 0, ""},
		{"comments", "# a\n\n   \n# b\n", 0, ""},
		{"one", "a@example.test:" + h + "\n", 1, ""},
		{"no newline", "a@example.test:" + h, 1, ""},
		{"crlf", "a@example.test:" + h + "\r\n", 1, ""},
		{"bcrypt", "a@example.test:" + string(bc), 1, ""},
		{"no colon", "a@example.test " + h, 0, "f:1: want address:hash"},
		{"no at", "# x\nalice:" + h, 0, "f:2: \"alice\" is not an address"},
		{"bad domain", "a@exa mple:" + h, 0, "f:1:"},
		{"unknown scheme", "a@example.test:$1$abc$def", 0, "f:1: a@example.test: unknown hash scheme"},
		{"plain text", "a@example.test:password", 0, "unknown hash scheme"},
		{"bad argon version", "a@example.test:" + strings.Replace(h, "v=19", "v=16", 1), 0, "version"},
		{"huge memory", "a@example.test:" + strings.Replace(h, "m=19456", "m=99999999", 1), 0, "out of range"},
		{"bad salt", "a@example.test:$argon2id$v=19$m=19456,t=2,p=1$!!$AAAAAAAAAAAAAAAAAAAAAA", 0, "bad argon2id salt"},
		{"short bcrypt", "a@example.test:$2b$10$abc", 0, "bcrypt"},
		{"duplicate", "a@example.test:" + h + "\nA@Example.test.:" + h + "\n", 0, "f:2: a@example.test is already on line 1"},
		{"not utf8", "a@example.test:\xff", 0, "not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, err := parse("f", []byte(tt.text))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parse error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, l := range lines {
				if l.addr != "" {
					n++
				}
			}
			if n != tt.users {
				t.Errorf("%d users, want %d", n, tt.users)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Alice@Example.TEST", "alice@example.test"},
		{"a@bücher.example.", "a@xn--bcher-kva.example"},
		{" a@b.example ", "a@b.example"},
		{"a@b@c.example", "a@b@c.example"},
		{"@example.test", ""},
		{"a@", ""},
		{"a b@example.test", ""},
		{"#a@example.test", ""},
		{"a@exa_mple.test", ""},
		{strings.Repeat("x", 65) + "@example.test", ""},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Normalize(%q) = %q, want an error", tt.in, got)
			}
		} else if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("a@example.test:$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
	f.Add("# comment\n\nb@example.test:$2b$04$abcdefghijklmnopqrstuu5Xl3V8cAZ7e7Uq5hE4X8P9v2QeS2cO.\n")
	f.Add("x:y:z\n@:\n")
	f.Fuzz(func(t *testing.T, text string) {
		lines, err := parse("fuzz", []byte(text))
		if err != nil {
			return
		}
		// What parses, formats and parses again to the same users.
		again, err := parse("fuzz", format(lines))
		if err != nil {
			t.Fatalf("formatted file does not parse: %v", err)
		}
		if len(again) != len(lines) {
			t.Fatalf("%d lines, then %d", len(lines), len(again))
		}
		for i := range lines {
			if lines[i].addr != again[i].addr || lines[i].hash != again[i].hash {
				t.Fatalf("line %d changed: %+v -> %+v", i, lines[i], again[i])
			}
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
