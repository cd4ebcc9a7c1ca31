package users

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Row is one user as a database table holds it (internal/pgusers): the
// state is in columns of its own, not in marks on the hash.
type Row struct {
	Address   string // normalized (Normalize), the table's primary key
	Hash      string // argon2id or bcrypt, as in the users file; "*" for none
	Suspended bool
	Revoked   bool
	Admin     bool
}

// field is the row's hash field as the users file writes it (state.go).
func (r Row) field() string {
	h := r.Hash
	if r.Revoked {
		h = revokedHash
	}
	p := ""
	if r.Suspended {
		p += suspendedMark
	}
	if r.Admin {
		p += adminMark
	}
	return p + h
}

// rowOf is the row of a user with hash field h.
func rowOf(addr, h string) Row {
	p, b := marks(h)
	return Row{Address: addr, Hash: b, Suspended: strings.HasPrefix(p, suspendedMark),
		Revoked: b == revokedHash, Admin: strings.HasSuffix(p, adminMark)}
}

// FromRows checks a table's rows as the users file's lines are checked
// and returns the users (address to hash field). One bad row refuses
// the whole copy, with the row named: where says where they were read.
func FromRows(where string, rows []Row) (map[string]string, error) {
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		name := fmt.Sprintf("%s: row %q", where, r.Address)
		a, err := Normalize(r.Address)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if a != r.Address {
			return nil, fmt.Errorf("%s: the address is not in its normalized form %q", name, a)
		}
		if p, _ := marks(r.Hash); p != "" || r.Hash == "" {
			return nil, errors.New(name + ": the hash must be an argon2id or bcrypt hash or *, without marks (the state has its own columns)")
		}
		if err := checkHash(r.Hash); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if _, dup := out[a]; dup {
			return nil, fmt.Errorf("%s: the address is there twice", name)
		}
		out[a] = r.field()
	}
	return out, nil
}

// renderRows writes rows as the users file's lines ("address:field"),
// sorted by address, as the change log records a copy of the table.
func renderRows(rows []Row) []byte {
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = r.Address + ":" + r.field() + "\n"
	}
	slices.Sort(lines)
	return []byte(strings.Join(lines, ""))
}
