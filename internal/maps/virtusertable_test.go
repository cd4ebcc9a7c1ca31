package maps

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

const testVirt = `# virtual users
info@example.com          alice
sales@example.com         bob@elsewhere.example
@example.com              %1@mailhost.example
john+*@example.com        john-detail
jane++@example.com        jane-%2@lists.example
old@example.com           error:nouser This address is gone
closed@example.com        error:5.7.0:550 Mailbox closed
full@example.com          error:4.2.2:452 Mailbox full
@Example.NET.             error:nouser
+*@detailed.example       plus-%1%3@collect.example
@detailed.example         nodetail-%1@collect.example
kim@detailed.example      kim-local
@catch.example            catchall
`

func TestVirtusertable(t *testing.T) {
	v, err := ParseVirtusertable("virtusertable", strings.NewReader(testVirt))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr  string
		kind  VirtKind
		want  string // address, or "code enhanced text" for errors
		key   string
		found bool
	}{
		{"info@example.com", VirtLocal, "alice", "info@example.com", true},
		{"INFO@Example.COM.", VirtLocal, "alice", "info@example.com", true},
		{"sales@example.com", VirtAddress, "bob@elsewhere.example", "sales@example.com", true},
		{"Fred@example.com", VirtAddress, "Fred@mailhost.example", "@example.com", true}, // %1 keeps case
		{"john+news@example.com", VirtLocal, "john-detail", "john+*@example.com", true},
		{"john+@example.com", VirtLocal, "john-detail", "john+*@example.com", true},
		{"john@example.com", VirtAddress, "john@mailhost.example", "@example.com", true},
		{"jane+x@example.com", VirtAddress, "jane-x@lists.example", "jane++@example.com", true},
		// jane++ needs a non-empty detail; jane+ falls back to jane@ then @domain
		{"jane+@example.com", VirtAddress, "jane@mailhost.example", "@example.com", true},
		{"sales+x@example.com", VirtAddress, "bob@elsewhere.example", "sales@example.com", true},
		{"old@example.com", VirtError, "550 5.1.1 This address is gone", "old@example.com", true},
		{"closed@example.com", VirtError, "550 5.7.0 Mailbox closed", "closed@example.com", true},
		{"full@example.com", VirtError, "452 4.2.2 Mailbox full", "full@example.com", true},
		{"x@example.net", VirtError, "550 5.1.1 user unknown", "@example.net", true},
		{"x@sub.example.com", 0, "", "", false}, // no parent-domain matching
		{"x@badexample.com", 0, "", "", false},
		{"bob+tag@detailed.example", VirtAddress, "plus-bob+tag@collect.example", "+*@detailed.example", true},
		{"bob@detailed.example", VirtAddress, "nodetail-bob@collect.example", "@detailed.example", true},
		{"kim+x@detailed.example", VirtLocal, "kim-local", "kim@detailed.example", true},
		{"anyone@catch.example", VirtLocal, "catchall", "@catch.example", true},
		{"unqualified", 0, "", "", false},
	}
	for _, tt := range tests {
		r, ok := v.Lookup(tt.addr)
		if ok != tt.found {
			t.Errorf("Lookup(%q) found=%v, want %v (%+v)", tt.addr, ok, tt.found, r)
			continue
		}
		if !ok {
			continue
		}
		got := r.Address
		if r.Kind == VirtError {
			got = strings.Join([]string{strconv.Itoa(r.Code), r.Enhanced, r.Text}, " ")
		}
		if r.Kind != tt.kind || got != tt.want || r.Key != tt.key {
			t.Errorf("Lookup(%q) = %v %q key %q, want %v %q key %q", tt.addr, r.Kind, got, r.Key, tt.kind, tt.want, tt.key)
		}
	}
	r, _ := v.Lookup("x@example.com")
	if r.Rule() != "virtusertable line 4: @example.com %1@mailhost.example" {
		t.Errorf("Rule() = %q", r.Rule())
	}
}

func TestVirtusertableErrors(t *testing.T) {
	in := `nodomain alice
user@ alice
@bad..domain x
a@example.com
b@example.com error:250 ok
c@example.com error:5.1.1:450 mismatch
d@example.com two, targets
e@example.com %9@x.example
f@example.com x@bad..domain
a@example.com
g@example.com error:bogus text
`
	_, err := ParseVirtusertable("vt", strings.NewReader(in))
	var pe ParseErrors
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	if len(pe) != 11 {
		t.Fatalf("got %d errors:\n%v", len(pe), err)
	}
	for i, e := range pe {
		if e.Line != i+1 {
			t.Errorf("error %d on line %d: %s", i, e.Line, e.Msg)
		}
	}
	_, err = ParseVirtusertable("vt", strings.NewReader("a@example.com x\nA@Example.com. y\n"))
	if err == nil || !strings.Contains(err.Error(), "vt:2: duplicate key") {
		t.Errorf("duplicate: %v", err)
	}
}
