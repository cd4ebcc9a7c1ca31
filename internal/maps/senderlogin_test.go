package maps

import (
	"strings"
	"testing"
)

const testSenderLogin = `# who may send as whom
boss@Example.TEST      carol@example.test, dave@example.test
@example.test          webmail@example.test
info@example.test      alice@example.test
`

func TestParseSenderLogin(t *testing.T) {
	s, err := ParseSenderLogin("sender-login", strings.NewReader(testSenderLogin))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 {
		t.Fatalf("Len = %d", s.Len())
	}
	e, ok := s.Address("BOSS@example.test.")
	if !ok || e.Key != "boss@example.test" || len(e.Logins) != 2 || !e.Has("dave@example.test") || e.Source.Line != 2 {
		t.Fatalf("Address = %+v %v", e, ok)
	}
	if _, ok := s.Address("other@example.test"); ok {
		t.Error("found an entry for other@")
	}
	if e, ok := s.Domain("other@Example.test"); !ok || !e.Has("webmail@example.test") {
		t.Errorf("Domain = %+v %v", e, ok)
	}
	bad := []struct{ in, want string }{
		{"boss@example.test\n", "has no value"},
		{"boss carol@example.test\n", "want user@domain or @domain"},
		{"boss@bad..example carol\n", "boss@bad..example"},
		{"boss@example.test <carol>\n", "want a login name"},
		{"boss@example.test @example.test\n", "want a login name"},
		{"boss@example.test ,,\n", "lists no login"},
		{"a@example.test x\nA@example.test y\n", "duplicate key"},
	}
	for _, tt := range bad {
		_, err := ParseSenderLogin("sl", strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "sl:") {
			t.Errorf("ParseSenderLogin(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestOwns(t *testing.T) {
	sl, err := ParseSenderLogin("sender-login", strings.NewReader(testSenderLogin))
	if err != nil {
		t.Fatal(err)
	}
	al, err := ParseAliases("aliases", strings.NewReader("sales: alice, bob@example.test\npostmaster: root\nteam: sales\nall: :include:/nonexistent\n"))
	if err != nil {
		t.Fatal(err)
	}
	vt, err := ParseVirtusertable("virtusertable", strings.NewReader("hr@example.test erin@example.test\nlist@example.test team\n@example.test frank@example.test\nrem@example.test x@remote.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := &Maps{SenderLogin: sl, Aliases: al, Virtusertable: vt}
	local := func(d string) bool { return d == "example.test" }
	tests := []struct {
		login, addr string
		want        bool
		rule        string
	}{
		{"carol@example.test", "carol@example.test", true, "own address"},
		{"Carol@Example.test", "CAROL@example.test.", true, "own address"},
		{"carol@example.test", "boss@example.test", true, "sender-login line 2"},
		{"erin@example.test", "boss@example.test", false, "erin@example.test is not listed"},
		// The domain entry does not reach an address with its own entry.
		{"webmail@example.test", "boss@example.test", false, "not listed"},
		{"webmail@example.test", "anyone@example.test", true, "sender-login line 3"},
		{"webmail@example.test", "anyone@other.example", false, "no sender-login entry"},
		{"alice@example.test", "info@example.test", true, "line 4"},
		{"alice@example.test", "sales@example.test", true, "alias sales"},
		{"bob@example.test", "sales@example.test", true, "alias sales"},
		{"alice@example.test", "team@example.test", true, "alias team"},
		{"carol@example.test", "sales@example.test", false, "no alias or virtusertable"},
		{"root@example.test", "postmaster@example.test", true, "alias postmaster"},
		{"erin@example.test", "hr@example.test", true, "virtusertable"},
		{"alice@example.test", "list@example.test", true, "virtusertable"},
		// A catch-all receives everything; it does not own everything.
		{"frank@example.test", "ceo@example.test", false, "no sender-login"},
		{"x@remote.example", "rem@example.test", true, "virtusertable"},
		// Aliases count in local domains only.
		{"alice@example.test", "sales@other.example", false, "no sender-login"},
		{"alice@example.test", "all@example.test", false, "no alias"},
		{"alice@example.test", "", false, "not an address"},
		{"", "alice@example.test", false, "not an address"},
	}
	for _, tt := range tests {
		got, rule := m.Owns(tt.login, tt.addr, local)
		if got != tt.want || !strings.Contains(rule, tt.rule) {
			t.Errorf("Owns(%q, %q) = %v %q, want %v %q", tt.login, tt.addr, got, rule, tt.want, tt.rule)
		}
	}
	var empty *Maps
	if ok, _ := empty.Owns("a@example.test", "b@example.test", local); ok {
		t.Error("nil maps: b@ owned by a@")
	}
}
