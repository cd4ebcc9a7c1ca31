package users

import (
	"strings"
	"testing"
)

const (
	rowArgon  = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	rowBcrypt = "$2b$04$abcdefghijklmnopqrstuu5Xl3V8cAZ7e7Uq5hE4X8P9v2QeS2cO."
)

// TestFromRows checks a table's rows as the users file's lines: the
// state columns become the file's marks, and one bad row refuses the
// whole copy with the row named.
func TestFromRows(t *testing.T) {
	tests := []struct {
		name string
		rows []Row
		want map[string]string
		err  string
	}{
		{"active", []Row{{Address: "a@example.test", Hash: rowArgon}}, map[string]string{"a@example.test": rowArgon}, ""},
		{"bcrypt", []Row{{Address: "b@example.test", Hash: rowBcrypt}}, map[string]string{"b@example.test": rowBcrypt}, ""},
		{"suspended admin", []Row{{Address: "a@example.test", Hash: rowArgon, Suspended: true, Admin: true}},
			map[string]string{"a@example.test": "!+" + rowArgon}, ""},
		{"revoked keeps no hash", []Row{{Address: "a@example.test", Hash: rowArgon, Revoked: true}}, map[string]string{"a@example.test": "*"}, ""},
		{"star is revoked", []Row{{Address: "a@example.test", Hash: "*", Suspended: true}}, map[string]string{"a@example.test": "!*"}, ""},
		{"none", nil, map[string]string{}, ""},
		{"not normalized", []Row{{Address: "A@Example.test", Hash: rowArgon}}, nil, `row "A@Example.test": the address is not in its normalized form "a@example.test"`},
		{"not an address", []Row{{Address: "nobody", Hash: rowArgon}}, nil, `row "nobody"`},
		{"marks in the hash", []Row{{Address: "a@example.test", Hash: "!" + rowArgon}}, nil, "without marks"},
		{"empty hash", []Row{{Address: "a@example.test"}}, nil, "without marks"},
		{"plain password", []Row{{Address: "a@example.test", Hash: "secret"}}, nil, `row "a@example.test": unknown hash scheme`},
		{"bad argon2id", []Row{{Address: "a@example.test", Hash: "$argon2id$v=18$x"}}, nil, "bad argon2id hash"},
		{"one bad row refuses all", []Row{{Address: "a@example.test", Hash: rowArgon}, {Address: "b@example.test", Hash: "md5"}}, nil, `row "b@example.test"`},
		{"twice", []Row{{Address: "a@example.test", Hash: rowArgon}, {Address: "a@example.test", Hash: rowBcrypt}}, nil, "there twice"},
	}
	for _, tt := range tests {
		got, err := FromRows("db table t", tt.rows)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "db table t: ") || got != nil {
				t.Errorf("%s: got %v, %v; want an error with %q", tt.name, got, err, tt.err)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("%s: got %v, %v; want %v", tt.name, got, err, tt.want)
			continue
		}
		for a, h := range tt.want {
			if got[a] != h {
				t.Errorf("%s: %s = %q, want %q", tt.name, a, got[a], h)
			}
		}
	}
}

// FuzzFromRows: whatever a row holds, it is refused or it comes back as
// the same row from its hash field.
func FuzzFromRows(f *testing.F) {
	f.Add("a@example.test", rowArgon, false, false, false)
	f.Add("b@example.test", rowBcrypt, true, false, true)
	f.Add("c@example.test", "*", false, true, false)
	f.Add("A@x", "!+*", true, true, true)
	f.Fuzz(func(t *testing.T, addr, hash string, suspended, revoked, admin bool) {
		r := Row{Address: addr, Hash: hash, Suspended: suspended, Revoked: revoked, Admin: admin}
		got, err := FromRows("fuzz", []Row{r})
		if err != nil {
			return
		}
		h, ok := got[addr]
		if !ok || len(got) != 1 {
			t.Fatalf("%+v: got %v", r, got)
		}
		back := rowOf(addr, h)
		if back.Suspended != suspended || back.Admin != admin || back.Revoked != (revoked || hash == revokedHash) {
			t.Fatalf("%+v came back as %+v", r, back)
		}
		if !revoked && back.Hash != hash {
			t.Fatalf("hash %q came back as %q", hash, back.Hash)
		}
		if err := checkHash(h); err != nil {
			t.Fatalf("%q is not a hash field: %v", h, err)
		}
	})
}
